//! Events of paused collections, held in stream order while every other collection flows.
//!
//! Held events stay pending in the watermark, so the checkpoint cannot pass the first of them
//! (a restart re-reads and re-holds them). Memory is bounded by [`MAX_HELD_EVENTS`] and
//! [`MAX_HELD_BYTES`]: at the bound the watcher stops reading (every collection waits, nothing
//! is dropped) until the paused collection is resumed; `/status` says so (`paused.blocked`).

use std::collections::{BTreeMap, VecDeque};

/// Events held for all paused collections together before reading stops.
pub const MAX_HELD_EVENTS: usize = 100_000;
/// Approximate bytes (documents and deltas) held before reading stops.
pub const MAX_HELD_BYTES: usize = 256 * 1024 * 1024;

/// Per-collection queues of held items (`T` is the router's item; generic for tests).
#[derive(Debug)]
pub struct Held<T> {
    queues: BTreeMap<String, VecDeque<(T, usize)>>,
    events: usize,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Self::with_bounds(MAX_HELD_EVENTS, MAX_HELD_BYTES)
    }
}

impl<T> Held<T> {
    pub fn with_bounds(max_events: usize, max_bytes: usize) -> Self {
        Held {
            queues: BTreeMap::new(),
            events: 0,
            bytes: 0,
            max_events,
            max_bytes,
        }
    }

    /// Holds `item` (about `bytes` large) behind the earlier ones of `collection`.
    pub fn push(&mut self, collection: &str, item: T, bytes: usize) {
        self.queues
            .entry(collection.to_string())
            .or_default()
            .push_back((item, bytes));
        self.events += 1;
        self.bytes += bytes;
    }

    /// Where a newly read `item` of `collection` goes: held behind the others while `paused`
    /// (nothing to hand on), else handed on now, after whatever of its collection is still
    /// held. A collection resumed between the last release and this item must not let the item
    /// overtake its held events (an older version would land on top of the newer one).
    pub fn hold_or_pass(
        &mut self,
        collection: &str,
        item: T,
        bytes: usize,
        paused: bool,
    ) -> Vec<T> {
        if paused {
            self.push(collection, item, bytes);
            return Vec::new();
        }
        let mut out = Vec::new();
        for (held, b) in self.queues.remove(collection).unwrap_or_default() {
            self.events -= 1;
            self.bytes -= b;
            out.push(held);
        }
        out.push(item);
        out
    }

    /// At the bound: the caller stops reading until something is released.
    pub fn full(&self) -> bool {
        self.events >= self.max_events || self.bytes >= self.max_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Removes and returns, in stream order, every held item of the collections `paused` no
    /// longer holds (collection by collection; order across collections does not matter, they
    /// touch different documents).
    pub fn release(&mut self, paused: impl Fn(&str) -> bool) -> Vec<T> {
        let resumed: Vec<String> = self.queues.keys().filter(|c| !paused(c)).cloned().collect();
        let mut out = Vec::new();
        for c in resumed {
            for (item, bytes) in self.queues.remove(&c).unwrap_or_default() {
                self.events -= 1;
                self.bytes -= bytes;
                out.push(item);
            }
        }
        out
    }

    /// `(collection, events)` held now, and the bytes in total.
    pub fn summary(&self) -> (BTreeMap<String, usize>, usize) {
        let per = self
            .queues
            .iter()
            .map(|(c, q)| (c.clone(), q.len()))
            .collect();
        (per, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_returns_a_resumed_collection_in_stream_order_and_keeps_the_others() {
        let mut h = Held::default();
        for (i, c) in ["a", "b", "a", "b", "a"].iter().enumerate() {
            h.push(c, i, 10);
        }
        assert_eq!(h.release(|c| c == "a" || c == "b"), Vec::<usize>::new());
        assert_eq!(
            h.release(|c| c == "b"),
            vec![0, 2, 4],
            "a resumed, in order"
        );
        let (per, bytes) = h.summary();
        assert_eq!((per.get("b"), bytes), (Some(&2), 20));
        assert_eq!(h.release(|_| false), vec![1, 3]);
        assert!(h.is_empty() && h.summary().1 == 0);
    }

    #[test]
    fn an_item_of_a_resumed_collection_comes_after_its_held_ones() {
        let mut h = Held::default();
        assert_eq!(h.hold_or_pass("a", 0, 10, true), Vec::<usize>::new());
        assert_eq!(h.hold_or_pass("b", 1, 10, true), Vec::<usize>::new());
        assert_eq!(h.hold_or_pass("a", 2, 10, true), Vec::<usize>::new());
        // `a` resumed before anything released its queue: the new item goes last.
        assert_eq!(h.hold_or_pass("a", 3, 10, false), vec![0, 2, 3]);
        assert_eq!(
            h.hold_or_pass("c", 4, 10, false),
            vec![4],
            "nothing held: straight on"
        );
        assert_eq!(h.summary(), ([("b".to_string(), 1)].into(), 10));
    }

    #[test]
    fn full_at_either_bound() {
        let mut by_count = Held::with_bounds(2, 1000);
        by_count.push("a", (), 1);
        assert!(!by_count.full());
        by_count.push("a", (), 1);
        assert!(by_count.full(), "2 events");
        let mut by_bytes = Held::with_bounds(100, 1000);
        by_bytes.push("a", (), 999);
        assert!(!by_bytes.full());
        by_bytes.push("b", (), 1);
        assert!(by_bytes.full(), "1000 bytes");
        by_bytes.release(|c| c == "a");
        assert!(!by_bytes.full(), "releasing b freed room");
    }
}
