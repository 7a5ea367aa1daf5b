//! The batches a writer has sent and the target has not acknowledged yet, with the keys each
//! holds (`apply.writes_in_flight`). A batch may be sent while others await the target only when
//! it shares no (collection, document key) with any of them: per-document order holds because
//! two writes of one document are never in flight at once. Pure: no I/O; the payload (the
//! writer's task handle) is the caller's.

use crate::source::translate::DocKey;
use std::collections::{HashSet, VecDeque};

/// The (collection, canonical key bytes) pairs one batch writes, per collection.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchKeys {
    colls: Vec<(String, HashSet<DocKey>)>,
}

impl BatchKeys {
    /// The keys of a batch, one set per collection (as [`crate::apply::batch::BatchBuilder`]
    /// keyed its ops).
    pub fn new(colls: Vec<(String, HashSet<DocKey>)>) -> Self {
        BatchKeys { colls }
    }

    pub fn contains(&self, coll: &str, key: &DocKey) -> bool {
        (self.colls.iter()).any(|(c, keys)| c == coll && keys.contains(key))
    }

    /// True when no (collection, key) is in both: the smaller set of each shared collection is
    /// looked up in the larger.
    pub fn is_disjoint(&self, other: &BatchKeys) -> bool {
        self.colls.iter().all(|(coll, mine)| {
            let Some((_, theirs)) = other.colls.iter().find(|(c, _)| c == coll) else {
                return true;
            };
            mine.is_disjoint(theirs)
        })
    }

    /// Keys held, over every collection.
    pub fn len(&self) -> usize {
        self.colls.iter().map(|(_, k)| k.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Batches in flight, oldest first, each with its keys and the caller's payload.
#[derive(Debug)]
pub struct InFlight<T> {
    sent: VecDeque<(BatchKeys, T)>,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        InFlight {
            sent: VecDeque::new(),
        }
    }
}

impl<T> InFlight<T> {
    pub fn push(&mut self, keys: BatchKeys, payload: T) {
        self.sent.push_back((keys, payload));
    }

    /// The oldest batch in flight: the next one whose outcome is taken (in send order).
    pub fn pop_front(&mut self) -> Option<T> {
        self.sent.pop_front().map(|(_, p)| p)
    }

    pub fn front_mut(&mut self) -> Option<&mut T> {
        self.sent.front_mut().map(|(_, p)| p)
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// True when a batch in flight writes (`coll`, `key`).
    pub fn writes(&self, coll: &str, key: &DocKey) -> bool {
        self.sent.iter().any(|(keys, _)| keys.contains(coll, key))
    }

    /// How many of the oldest batches must be acknowledged before `next` may be sent: up to
    /// and including the newest one sharing a key with it (outcomes are taken in send order,
    /// so waiting for the older ones too costs nothing); 0 when `next` is disjoint from all.
    pub fn waits_for(&self, next: &BatchKeys) -> usize {
        (self.sent.iter())
            .rposition(|(keys, _)| !keys.is_disjoint(next))
            .map_or(0, |i| i + 1)
    }
}

#[cfg(test)]
#[path = "in_flight_tests.rs"]
mod tests;
