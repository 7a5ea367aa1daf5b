//! The `apply.hold.deletes_per_minute` threshold: per collection, the source times of its
//! latest deletes within a sliding minute. The delete that would be one more than the
//! threshold within the minute before it (by source wall time, so a backlog read fast is
//! judged by when it happened, not by how fast it is read) is "over": the collection is held
//! from that delete on. So at most `deletes_per_minute` deletes of a burst reach the backup
//! before a person decides. Pure: no I/O; memory at most the threshold per collection.

use std::collections::{HashMap, VecDeque};

/// The sliding window.
pub const WINDOW_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub struct DeleteRate {
    /// 0 = off.
    limit: usize,
    recent: HashMap<String, VecDeque<i64>>,
}

impl DeleteRate {
    pub fn new(limit: u64) -> Self {
        DeleteRate {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            recent: HashMap::new(),
        }
    }

    /// Counts a delete of `collection` written at `at_ms` (source time); `true` when it is
    /// over the threshold (then it is not counted: the collection is held from it).
    pub fn over(&mut self, collection: &str, at_ms: i64) -> bool {
        if self.limit == 0 {
            return false;
        }
        let times = self.recent.entry(collection.to_string()).or_default();
        while times.front().is_some_and(|&t| t <= at_ms - WINDOW_MS) {
            times.pop_front();
        }
        if times.len() >= self.limit {
            return true;
        }
        times.push_back(at_ms);
        false
    }

    /// Starts counting `collection` afresh (after its hold was released or discarded).
    pub fn forget(&mut self, collection: &str) {
        self.recent.remove(collection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_delete_after_the_threshold_within_a_minute_is_over() {
        let mut r = DeleteRate::new(3);
        assert!(!r.over("a", 0) && !r.over("a", 10) && !r.over("a", 20));
        assert!(r.over("a", 30), "the 4th within a minute");
        assert!(!r.over("b", 30), "per collection");
        assert!(!r.over("a", 60_000), "the first fell out of the window");
        r.forget("a");
        assert!(!r.over("a", 60_001) && !r.over("a", 60_002));
    }

    #[test]
    fn zero_is_off() {
        let mut r = DeleteRate::new(0);
        assert!((0..10_000).all(|i| !r.over("a", i)));
    }

    proptest! {
        /// Over exactly when `limit` counted deletes lie in the minute before it (a
        /// reference count over every delete counted so far).
        #[test]
        fn matches_a_reference_count(limit in 1u64..6, gaps in prop::collection::vec(0i64..30_000, 1..60)) {
            let mut r = DeleteRate::new(limit);
            let mut counted: Vec<i64> = Vec::new();
            let mut at = 0;
            for g in gaps {
                at += g;
                let in_window = counted.iter().filter(|&&t| t > at - WINDOW_MS).count();
                let over = r.over("c", at);
                prop_assert_eq!(over, in_window >= limit as usize);
                if !over {
                    counted.push(at);
                }
            }
        }
    }
}
