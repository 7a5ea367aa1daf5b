//! DDL as a barrier: every writer drains, the checkpoint is saved exactly before the DDL, the
//! DDL is applied (idempotently), the keys that fetches found gone are settled (a rename
//! re-reads them under the new name), and the checkpoint is saved after it. Held collection
//! drops are released here too, and the unique indexes the copy deferred are built once the
//! tail has caught up.

use super::watcher::{StreamState, Watcher, INDEX_RETRY_EVERY};
use crate::apply::ddl::apply_ddl;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::source::translate::{ClusterTime, DdlOp, WriteKind};

impl Watcher {
    pub(super) async fn barrier(&self) -> Result<()> {
        if !self.router.drain().await {
            return Err(Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "DDL barrier",
                "a writer stopped",
            ));
        }
        Ok(())
    }

    /// Applies one DDL event (`seq` in the watermark) as a barrier.
    pub(super) async fn apply_ddl_event(
        &self,
        op: &DdlOp,
        seq: u64,
        state: &mut StreamState,
    ) -> Result<()> {
        self.barrier().await?;
        // A replay must never cross a DDL: with the checkpoint exactly before it, a crash
        // during or after it replays only the DDL itself (idempotent), never the writes
        // before it (which would land in a renamed or dropped collection's old name).
        self.reporter
            .retry("writing the checkpoint", || self.checkpointer.save_now())
            .await?;
        let history = self.history.as_ref();
        let at = history.map(|h| h.ddl_time(seq, self.position.last_cluster_time()));
        if let (Some(h), Some(at)) = (history, at) {
            let keep = || h.before_ddl(&self.target, op, at);
            self.reporter
                .retry("keeping DDL'd documents in the history", keep)
                .await?;
        }
        self.reporter
            .retry("applying DDL to the target", || apply_ddl(&self.target, op))
            .await?;
        if let (Some(h), Some(at)) = (history, at) {
            h.ddl_applied(at);
        }
        {
            // Deferred unique indexes and recorded TTLs follow the source's DDL.
            let mut state = self.checkpointer.state.lock().await;
            crate::state::pending_indexes::after_ddl(&mut state.pending_indexes, op);
            crate::state::ttl_indexes::after_ddl(&mut state.ttl_indexes, op);
            let labels = crate::state::pending_indexes::labels(&state.pending_indexes);
            self.reporter.pending_indexes(labels);
        }
        let mut read_at = self.settle_gone_keys(op).await?;
        if let DdlOp::RenameIn { coll } = op {
            read_at = read_at.max(self.copy_renamed_in(coll).await?);
        }
        if let Some(read_at) = read_at {
            // Documents were just re-read at `read_at`: deltas up to then are in them
            // already, so those events are applied by re-reading too (as in a replay).
            if state.replay_until.is_none_or(|t| t < read_at) {
                state.replay_until = Some(read_at);
            }
        }
        self.position.ack([seq], None, None);
        self.reporter.ddl_applied(&op.describe());
        self.reporter
            .retry("writing the checkpoint", || self.checkpointer.save_now())
            .await
    }

    /// Applies the held collection drops, oldest first: no `dropDatabase` followed them
    /// (unless `apply.hold` holds them, [`super::hold_gate`]).
    pub(super) async fn release_drops(
        &self,
        state: &mut StreamState,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<()> {
        for held in state.drops.take() {
            self.gate_ddl((held.op, held.seq), false, state, stop)
                .await?;
        }
        Ok(())
    }

    /// Keys fetches found gone ([`crate::state::gone_keys`]) after a DDL: a drop explains them; a
    /// rename carried their older versions to the new name, so they are re-read there (what is
    /// still not found waits under the new name). Returns the time of that read, if any.
    ///
    /// The keys stay in the registry under the old name until the re-read succeeded: the
    /// checkpoint is before the rename until then, so a failed re-read (a refusing target, a
    /// stop while a side is down) leaves them where the replayed rename finds them again.
    pub(super) async fn settle_gone_keys(&self, op: &DdlOp) -> Result<Option<ClusterTime>> {
        let (from, to, keys) = {
            let mut unresolved = self.checkpointer.unresolved.lock();
            match op {
                DdlOp::Drop { coll } | DdlOp::RenameIn { coll } => {
                    unresolved.drop_collection(coll);
                    return Ok(None);
                }
                DdlOp::DropDatabase => {
                    unresolved.clear();
                    return Ok(None);
                }
                DdlOp::Rename { from, to } => {
                    let keys = unresolved.keys_of(from);
                    if keys.is_empty() {
                        // With dropTarget, the old `to` and whatever waited under it are gone.
                        unresolved.drop_collection(to);
                        return Ok(None);
                    }
                    (from, to, keys)
                }
                _ => return Ok(None),
            }
        };
        let count = keys.len();
        let mut builder = crate::apply::batch::BatchBuilder::new();
        for key in keys {
            builder.push(crate::source::translate::WriteOp {
                coll: to.clone(),
                key: key.into(),
                kind: WriteKind::Fetch,
            });
        }
        let plan = builder.take_plan();
        let outcome = self
            .reporter
            .retry("re-reading renamed documents", || {
                crate::apply::apply_plan(&self.source, &self.target, &plan)
            })
            .await?;
        tracing::info!(
            collection = %to,
            documents = count,
            found = outcome.found.len(),
            "re-read documents a fetch had missed before their collection was renamed"
        );
        let read_at = outcome.found.iter().map(|f| f.at).max();
        let mut unresolved = self.checkpointer.unresolved.lock();
        unresolved.drop_collection(to);
        unresolved.drop_collection(from);
        for (coll, key) in outcome.gone {
            unresolved.record(&coll, key);
        }
        Ok(read_at)
    }

    /// Unique indexes deferred by the copy are built once the tail has caught up.
    pub(super) async fn build_pending_indexes(&self) -> Result<()> {
        let pending = self.checkpointer.state.lock().await.pending_indexes.clone();
        if pending.is_empty() {
            return Ok(());
        }
        {
            let mut last = self.index_attempt.lock();
            if last.is_some_and(|t| t.elapsed() < INDEX_RETRY_EVERY) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        for entry in &pending {
            let op = DdlOp::CreateIndexes {
                coll: entry.collection.clone(),
                indexes: vec![entry.spec.clone()],
            };
            let built = self
                .reporter
                .retry("building a deferred unique index", || {
                    apply_ddl(&self.target, &op)
                })
                .await;
            match built {
                Ok(()) => {}
                // Duplicates on the target: either not caught up after all (try again later)
                // or a real divergence; visible either way, never fatal.
                Err(e) if e.kind == ErrorKind::DuplicateKey => {
                    tracing::warn!(error = %e, "a deferred unique index cannot be built yet; will retry");
                    self.reporter.record_error(&e);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.checkpointer.state.lock().await.pending_indexes.clear();
        self.reporter.pending_indexes(Vec::new());
        self.reporter
            .retry("writing the checkpoint", || self.checkpointer.save_state())
            .await?;
        tracing::info!(count = pending.len(), "built deferred unique indexes");
        Ok(())
    }
}
