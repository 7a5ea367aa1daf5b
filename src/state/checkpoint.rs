//! What survives a restart: the resume token of the low watermark, the copy's per-collection
//! progress, the unique indexes still to build and the gone keys. Where it is kept, and the
//! contract of keeping it, is [`crate::state::store`].

use crate::state::pending_indexes::PendingIndex;
use crate::state::ttl_indexes::TtlIndex;
use bson::{Bson, DateTime, Document};
use serde::{Deserialize, Serialize};

/// The schema this version writes (`schema_version` beside the fields); a checkpoint without one
/// is version 1, from before the version and the source identity were stored. A newer version
/// is refused at start, never rewritten.
pub const SCHEMA_VERSION: i64 = 2;

/// Which source a checkpoint belongs to: a resume token means something only on the deployment
/// that issued it. `None` fields are unknown (a version-1 checkpoint, a sharded source).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SourceIdentity {
    /// `setName` of the source replica set, from `hello`.
    pub set_name: Option<String>,
}

impl SourceIdentity {
    /// Why a checkpoint of `self` cannot resume against `current`, if it cannot: both replica
    /// set names known and different.
    pub fn mismatch(&self, current: &SourceIdentity) -> Option<String> {
        match (&self.set_name, &current.set_name) {
            (Some(stored), Some(now)) if stored != now => Some(format!(
                "written for the source replica set \"{stored}\", but source.uri points at \"{now}\": its resume token means nothing there"
            )),
            _ => None,
        }
    }
}

/// Copy progress of one collection, keyed in [`Checkpoint::copy`] by the source collection's
/// UUID (a rename keeps it; the name where the server gives no UUID, and in checkpoints from
/// before issue 11 item 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CollectionCopy {
    /// The name the copy is written under on the target (`None` in older checkpoints).
    #[serde(default)]
    pub name: Option<String>,
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
    /// The source's TTL values, which the backup's indexes do not carry
    /// ([`crate::state::ttl_indexes`]): for a restore.
    #[serde(default)]
    pub ttl_indexes: Vec<TtlIndex>,
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
    /// What the last copy wrote, for the tail's replay of renames made while it ran
    /// ([`crate::bulk::follow::replayed`]).
    #[serde(default)]
    pub copied: Option<CopiedCollections>,
    /// The source this checkpoint follows (stamped by every save; `None` before version 2).
    #[serde(default)]
    pub source: Option<SourceIdentity>,
    /// What an operator paused ([`crate::control::Pauses`]): survives restarts.
    #[serde(default)]
    pub paused: crate::control::PauseState,
    /// Documents the backup refused for good ([`crate::control::parked`]): survive restarts.
    #[serde(default)]
    pub parked: Vec<crate::control::parked::ParkedEntry>,
    pub updated_at: Option<DateTime>,
}

/// The collections a finished copy wrote: target name -> source UUID (hex), and the source's
/// operation time when it finished. A rename replayed from before `until` into a name the copy
/// holds for the same UUID was already followed by the copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CopiedCollections {
    pub by_name: std::collections::BTreeMap<String, String>,
    pub until: Option<bson::Timestamp>,
}
