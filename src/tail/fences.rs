//! Per-document fences: after a fetch read a document at source time T, its events up to T are
//! already in the target; applying them again (a delta over a newer version) could reorder
//! fields. Entries are dropped once the stream has passed them. Pure: no I/O.
//!
//! Bounded and indexed (issue 11 item 20): fences are also kept by time, so pruning what the
//! stream passed costs only the fences removed, on every batch; and at most [`MAX_FENCES`] are
//! kept. Past that the oldest are evicted and their time becomes a floor: a delta at or before
//! the floor is re-read from the source instead of applied (as during a replay), which is exact
//! whether or not its document had a fence.

use super::router::Item;
use crate::source::translate::{ClusterTime, DocKey, WriteKind};
use std::collections::{BTreeMap, HashMap};

type Key = (String, DocKey);

/// The fences of one writer, by (collection, canonical key bytes) and by time.
#[derive(Default)]
pub struct Fences {
    by_key: HashMap<Key, ClusterTime>,
    /// The keys fenced at each time. A key fenced again stays under its older time too (a
    /// stale entry, skipped when popped), so re-fencing costs O(log n), not a bucket scan.
    by_time: BTreeMap<ClusterTime, Vec<Key>>,
    /// Entries in `by_time`, stale ones included.
    indexed: usize,
    /// The newest evicted fence: deltas up to it are re-read.
    floor: Option<ClusterTime>,
}

/// Fences kept at most (a long replay fetches every document it touches).
pub const MAX_FENCES: usize = 100_000;

impl Fences {
    pub fn covers(&self, item: &Item) -> bool {
        if self.by_key.is_empty() {
            return false;
        }
        let (Some(ct), Some(fence)) = (
            item.cluster_time,
            self.by_key
                .get(&(item.op.coll.clone(), item.op.key.clone())),
        ) else {
            return false;
        };
        ct <= *fence
    }

    /// Turns a delta at or before the floor into a re-read: its document's fence may have been
    /// evicted, and a delta over a newer version is not exact.
    pub fn refetch_below_floor(&self, item: &mut Item) {
        if let (Some(floor), Some(ct), WriteKind::Delta { .. }) =
            (self.floor, item.cluster_time, &item.op.kind)
        {
            if ct <= floor {
                item.refetch();
            }
        }
    }

    /// Fences the documents a fetch found (a key the source no longer has is not fenced: the
    /// event that removed it must still apply). Past [`MAX_FENCES`] the oldest are evicted.
    pub fn record(&mut self, fetched: Vec<crate::apply::Fetched>) {
        for f in fetched {
            let key = (f.coll, DocKey::of(&f.key));
            self.by_key.insert(key.clone(), f.at);
            self.by_time.entry(f.at).or_default().push(key);
            self.indexed += 1;
        }
        while self.by_key.len() > MAX_FENCES || self.indexed > 2 * MAX_FENCES {
            match self.pop_oldest() {
                Some((at, removed)) if removed > 0 => self.floor = self.floor.max(Some(at)),
                Some(_) => {}
                None => break,
            }
        }
    }

    /// Forgets fences the stream has passed (`seen` is the newest cluster time applied): only
    /// the entries removed are visited.
    pub fn prune(&mut self, seen: Option<ClusterTime>) {
        let Some(seen) = seen else { return };
        while self
            .by_time
            .first_key_value()
            .is_some_and(|(at, _)| *at <= seen)
        {
            self.pop_oldest();
        }
    }

    /// Fences held.
    pub fn held(&self) -> usize {
        self.by_key.len()
    }

    /// Drops the oldest time's entries: `(time, fences removed)` (stale entries remove none).
    fn pop_oldest(&mut self) -> Option<(ClusterTime, usize)> {
        let (at, keys) = self.by_time.pop_first()?;
        self.indexed -= keys.len();
        let mut removed = 0;
        for key in keys {
            if self.by_key.get(&key) == Some(&at) {
                self.by_key.remove(&key);
                removed += 1;
            }
        }
        Some((at, removed))
    }
}

#[cfg(test)]
#[path = "fences_tests.rs"]
mod tests;
