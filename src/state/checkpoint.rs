//! What survives a restart: the resume token of the low watermark, the copy's per-collection
//! progress, the unique indexes still to build and the gone keys. Where it is kept, and the
//! contract of keeping it, is [`crate::state::store`].

use crate::state::pending_indexes::PendingIndex;
use crate::state::ttl_indexes::TtlIndex;
use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};
use serde::{Deserialize, Serialize};

/// The schema this version writes (`schema_version` beside the fields); a checkpoint without one
/// is version 1, from before the version and the source identity were stored. A newer version
/// is refused at start, never rewritten.
pub const SCHEMA_VERSION: i64 = 2;

/// Which source a checkpoint belongs to: a resume token means something only on the deployment
/// that issued it. `None` fields are unknown (a version-1 checkpoint, a sharded source, a user
/// not allowed `replSetGetConfig`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SourceIdentity {
    /// `setName` of the source replica set, from `hello`.
    pub set_name: Option<String>,
    /// `settings.replicaSetId` from `replSetGetConfig`: made when the set was initiated, so it
    /// tells apart two sets of the same name.
    #[serde(default)]
    pub replica_set_id: Option<ObjectId>,
}

impl SourceIdentity {
    /// Why a checkpoint of `self` cannot resume against `current`, if it cannot: both replica
    /// set names known and different, or both replica set ids known and different.
    pub fn mismatch(&self, current: &SourceIdentity) -> Option<String> {
        let name = |n: &Option<String>| n.as_deref().unwrap_or("?").to_string();
        match (&self.set_name, &current.set_name) {
            (Some(stored), Some(now)) if stored != now => {
                return Some(format!(
                    "written for the source replica set \"{stored}\", but source.uri points at \"{now}\": its resume token means nothing there"
                ))
            }
            _ => {}
        }
        match (self.replica_set_id, current.replica_set_id) {
            (Some(stored), Some(now)) if stored != now => Some(format!(
                "written for the source replica set \"{}\" with replicaSetId {stored}, but source.uri points at \"{}\" with replicaSetId {now}, another deployment: its resume token means nothing there",
                name(&self.set_name),
                name(&current.set_name)
            )),
            _ => None,
        }
    }

    /// What the next save records: `current`, keeping the stored id when `current` could not
    /// read one (the same set, as far as can be told), so a later check can still use it.
    pub fn merged(stored: Option<&SourceIdentity>, current: SourceIdentity) -> SourceIdentity {
        SourceIdentity {
            replica_set_id: current
                .replica_set_id
                .or_else(|| stored.and_then(|s| s.replica_set_id)),
            ..current
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
    /// The source selection the backup holds copies of (stamped by every save once the run's
    /// own is complete): a collection selected later is copied at the next start
    /// ([`crate::bulk::widened`]). `None` before it was stored.
    #[serde(default)]
    pub selection: Option<crate::source::namespaces::Selection>,
    /// What an operator paused ([`crate::control::Pauses`]): survives restarts.
    #[serde(default)]
    pub paused: crate::control::PauseState,
    /// Documents the backup refused for good ([`crate::control::parked`]): survive restarts.
    #[serde(default)]
    pub parked: Vec<crate::control::parked::ParkedEntry>,
    /// Documents an operator skipped ([`crate::control::skipped`]): known differences for
    /// `verify` until written again.
    #[serde(default)]
    pub skipped: Vec<crate::control::skipped::SkippedEntry>,
    /// Collections `apply.hold` holds ([`crate::control::holds`]): survive restarts.
    #[serde(default)]
    pub holds: crate::control::holds::HoldState,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, rs_id: Option<ObjectId>) -> SourceIdentity {
        SourceIdentity {
            set_name: Some(name.into()),
            replica_set_id: rs_id,
        }
    }

    #[test]
    fn another_set_of_the_same_name_is_a_mismatch_naming_both_ids() {
        let (a, b) = (ObjectId::new(), ObjectId::new());
        let why = id("rs0", Some(a)).mismatch(&id("rs0", Some(b))).unwrap();
        assert!(
            why.contains(&a.to_hex()) && why.contains(&b.to_hex()),
            "{why}"
        );
        assert_eq!(id("rs0", Some(a)).mismatch(&id("rs0", Some(a))), None);
    }

    #[test]
    fn an_unknown_id_on_either_side_compares_names_only() {
        let a = ObjectId::new();
        assert_eq!(id("rs0", Some(a)).mismatch(&id("rs0", None)), None);
        assert_eq!(id("rs0", None).mismatch(&id("rs0", Some(a))), None);
        assert!(id("rs0", None).mismatch(&id("rs1", Some(a))).is_some());
    }

    #[test]
    fn a_run_that_cannot_read_the_id_keeps_the_stored_one() {
        let a = ObjectId::new();
        let stored = id("rs0", Some(a));
        assert_eq!(
            SourceIdentity::merged(Some(&stored), id("rs0", None)),
            stored
        );
        let b = ObjectId::new();
        assert_eq!(
            SourceIdentity::merged(Some(&stored), id("rs0", Some(b))),
            id("rs0", Some(b))
        );
        assert_eq!(
            SourceIdentity::merged(None, id("rs0", None)),
            id("rs0", None)
        );
    }
}
