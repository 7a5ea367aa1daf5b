//! What survives a restart: the resume token of the low watermark, the copy's per-collection
//! progress, the unique indexes still to build and the gone keys. Where it is kept, and the
//! contract of keeping it, is [`crate::state::store`].

use crate::state::pending_indexes::PendingIndex;
use bson::{Bson, DateTime, Document};
use serde::{Deserialize, Serialize};

/// Copy progress of one collection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CollectionCopy {
    /// `_id` of the last document known written to the target, in `_id` order.
    pub last_id: Option<Bson>,
    pub done: bool,
    pub documents: u64,
}

/// Everything needed to continue after a crash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Checkpoint {
    /// Resume token to tail from (the start point while copying).
    pub resume_token: Option<Document>,
    /// True while the initial copy is unfinished.
    pub copying: bool,
    /// Per-collection progress of an unfinished copy.
    #[serde(default)]
    pub copy: std::collections::BTreeMap<String, CollectionCopy>,
    /// Unique indexes to build once the tail has caught up.
    #[serde(default)]
    pub pending_indexes: Vec<PendingIndex>,
    /// The copy is a resync over an existing target: delete what the source no longer has.
    #[serde(default)]
    pub resync: bool,
    /// Written by a graceful stop after every writer drained: the target holds exactly the
    /// events up to `resume_token`, so the next tail needs no replay precautions.
    #[serde(default)]
    pub clean: bool,
    /// Keys a fetch found gone, waiting for the event that explains it
    /// ([`crate::state::GoneKeys`]): `[{collection, key}]`.
    #[serde(default)]
    pub unresolved_fetches: Vec<Document>,
    pub updated_at: Option<DateTime>,
}
