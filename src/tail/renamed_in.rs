//! A collection renamed into the replicated scope from outside it (a collection
//! `source.collections` does not list, or the temporary collection `$out` writes and renames
//! over its target): the backup never received its documents, so the rename cannot be replayed
//! as a rename. The target collection is emptied (the DDL op drops it) and copied again from
//! the source, with its indexes: a resync of that one collection, inside the DDL barrier. The
//! copy is not one instant of the source, so deltas of the events up to the end of the copy are
//! applied by re-reading (the caller sets `replay_until`), and unique indexes wait until the
//! tail caught up, as after the initial copy. A crash during it replays the DDL, which starts
//! the copy over.

use super::watcher::Watcher;
use crate::apply::ddl::apply_ddl;
use crate::error::Result;
use crate::source::translate::{ClusterTime, DdlOp};
use crate::source::Endpoint;

impl Watcher {
    /// Copies `coll` from the source after it was renamed into scope; returns the source time
    /// the copy is complete at.
    pub(super) async fn copy_renamed_in(&self, coll: &str) -> Result<Option<ClusterTime>> {
        let documents = self
            .reporter
            .retry("copying a collection renamed into scope", || {
                copy_collection(&self.source, &self.target, coll)
            })
            .await?;
        crate::bulk::copy::copy_indexes(
            &self.source,
            &self.target,
            coll,
            &self.checkpointer,
            &self.reporter,
        )
        .await?;
        let read_at = self
            .reporter
            .retry("reading the source operation time", || {
                crate::source::connect::operation_time(&self.source)
            })
            .await?;
        tracing::info!(collection = %coll, documents, "copied a collection renamed into the replicated scope");
        Ok(read_at)
    }
}

/// Empties `coll` on the target and copies every source document of it. Starts over on each
/// call.
async fn copy_collection(source: &Endpoint, target: &Endpoint, coll: &str) -> Result<u64> {
    apply_ddl(
        target,
        &DdlOp::Drop {
            coll: coll.to_string(),
        },
    )
    .await?;
    crate::bulk::widened::copy_documents(source, target, coll).await
}
