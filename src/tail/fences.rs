//! Per-document fences: after a fetch read a document at source time T, its events up to T are
//! already in the target; applying them again (a delta over a newer version) could reorder
//! fields. Entries are dropped once the stream has passed them. Pure: no I/O.

use super::router::Item;
use crate::source::translate::{ClusterTime, DocKey};
use std::collections::HashMap;

/// The fences of one writer, by (collection, canonical key bytes).
#[derive(Default)]
pub struct Fences {
    by_key: HashMap<(String, DocKey), ClusterTime>,
}

/// Fences kept before pruning is attempted.
const FENCES_SOFT_LIMIT: usize = 10_000;

impl Fences {
    pub fn covers(&self, item: &Item) -> bool {
        if self.by_key.is_empty() {
            return false;
        }
        let (Some(ct), Some(fence)) = (
            item.cluster_time,
            self.by_key
                .get(&(item.op.coll.clone(), DocKey::of(&item.op.key))),
        ) else {
            return false;
        };
        ct <= *fence
    }

    /// Fences the documents a fetch found (a key the source no longer has is not fenced: the
    /// event that removed it must still apply).
    pub fn record(&mut self, fetched: Vec<crate::apply::Fetched>) {
        for f in fetched {
            self.by_key.insert((f.coll, DocKey::of(&f.key)), f.at);
        }
    }

    /// Forgets fences the stream has passed (`seen` is the newest cluster time applied).
    pub fn prune(&mut self, seen: Option<ClusterTime>) {
        if self.by_key.len() < FENCES_SOFT_LIMIT {
            return;
        }
        if let Some(seen) = seen {
            self.by_key.retain(|_, fence| *fence > seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Fetched;
    use crate::ops::Op;
    use crate::source::translate::{WriteKind, WriteOp};
    use bson::{doc, Timestamp};

    fn at(time: u32) -> ClusterTime {
        ClusterTime(Timestamp { time, increment: 1 })
    }

    fn item(coll: &str, id: i32, ct: Option<ClusterTime>) -> Item {
        Item {
            seq: 1,
            op: WriteOp {
                coll: coll.into(),
                key: doc! {"_id": id},
                kind: WriteKind::Delete,
            },
            op_label: Op::Delete,
            wall_ms: None,
            cluster_time: ct,
            coll_uuid: None,
        }
    }

    fn fetched(coll: &str, id: i32, time: u32) -> Fetched {
        Fetched {
            coll: coll.into(),
            key: doc! {"_id": id},
            at: at(time),
        }
    }

    #[test]
    fn covers_only_events_up_to_the_fence_of_that_key_and_collection() {
        let mut f = Fences::default();
        assert!(!f.covers(&item("c", 1, Some(at(5)))), "no fence yet");
        f.record(vec![fetched("c", 1, 10)]);
        assert!(f.covers(&item("c", 1, Some(at(9)))));
        assert!(
            f.covers(&item("c", 1, Some(at(10)))),
            "the read saw the event at its own time"
        );
        assert!(
            !f.covers(&item("c", 1, Some(at(11)))),
            "later than the read"
        );
        assert!(!f.covers(&item("c", 2, Some(at(9)))), "other key");
        assert!(!f.covers(&item("d", 1, Some(at(9)))), "other collection");
        assert!(
            !f.covers(&item("c", 1, None)),
            "no cluster time: never covered"
        );
    }

    #[test]
    fn a_later_fetch_moves_the_fence() {
        let mut f = Fences::default();
        f.record(vec![fetched("c", 1, 10)]);
        f.record(vec![fetched("c", 1, 20)]);
        assert!(f.covers(&item("c", 1, Some(at(15)))));
    }

    #[test]
    fn prune_waits_for_the_soft_limit_then_keeps_fences_newer_than_seen() {
        let mut f = Fences::default();
        f.record(vec![fetched("c", 1, 10)]);
        f.prune(Some(at(50)));
        assert!(
            f.covers(&item("c", 1, Some(at(9)))),
            "under the limit nothing is pruned"
        );

        let many = (0..FENCES_SOFT_LIMIT as i32).map(|i| fetched("c", i + 2, 100));
        f.record(many.collect());
        f.record(vec![fetched("c", -1, 200)]);
        f.prune(None);
        assert!(
            f.covers(&item("c", 1, Some(at(9)))),
            "nothing seen: nothing pruned"
        );
        f.prune(Some(at(100)));
        assert!(
            !f.covers(&item("c", 1, Some(at(9)))),
            "passed by the stream"
        );
        assert!(!f.covers(&item("c", 2, Some(at(99)))), "at `seen`: passed");
        assert!(
            f.covers(&item("c", -1, Some(at(150)))),
            "newer than seen: kept"
        );
        assert_eq!(f.by_key.len(), 1);
    }
}
