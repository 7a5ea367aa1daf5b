//! Per-document fences: after a fetch read a document at source time T, its events up to T are
//! already in the target; applying them again (a delta over a newer version) could reorder
//! fields. Entries are dropped once the stream has passed them. Pure: no I/O.

use super::router::Item;
use crate::source::translate::{ClusterTime, DocKey};
use std::collections::HashMap;

/// The fences of one writer, by (collection, canonical key bytes).
#[derive(Default)]
pub(crate) struct Fences {
    by_key: HashMap<(String, DocKey), ClusterTime>,
}

/// Fences kept before pruning is attempted.
const FENCES_SOFT_LIMIT: usize = 10_000;

impl Fences {
    pub(crate) fn covers(&self, item: &Item) -> bool {
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
    pub(crate) fn record(&mut self, fetched: Vec<crate::apply::Fetched>) {
        for f in fetched {
            self.by_key.insert((f.coll, DocKey::of(&f.key)), f.at);
        }
    }

    /// Forgets fences the stream has passed (`seen` is the newest cluster time applied).
    pub(crate) fn prune(&mut self, seen: Option<ClusterTime>) {
        if self.by_key.len() < FENCES_SOFT_LIMIT {
            return;
        }
        if let Some(seen) = seen {
            self.by_key.retain(|_, fence| *fence > seen);
        }
    }
}
