//! The writer's in-order replay: a batch the target refused with a duplicate key, a delta that
//! no longer fits the document, or (parking on) a write refused for good is written again one
//! op at a time in stream order, each conflicting op waiting for every earlier event before
//! its conflict counts as real (see [`super::writer`]).

use super::fences::Fences;
use super::parking::refused_for_good;
use super::router::Item;
use super::writer::{Writer, CONFLICT_MAX_WAIT, CONFLICT_REPORT_AFTER};
use crate::apply::apply_plan;
use crate::apply::batch::BatchBuilder;
use crate::apply::is_shape_conflict;
use crate::error::retry::{cancelled, conflict_backoff, decide, Decision};
use crate::error::{ErrorKind, Result};
use crate::source::translate::{WriteKind, WriteOp};
use std::time::Instant;

impl Writer {
    /// Replays ops one by one in stream order; each conflicting op waits until every earlier
    /// event is applied, then is reported as a real conflict and retried slowly. Each op is
    /// acknowledged once written (never before), so the watermark shows this batch's own
    /// applied prefix: an op's earlier events are all applied exactly when the watermark
    /// reaches the seq before it.
    pub(super) async fn apply_in_order(&self, items: &[Item], fences: &mut Fences) -> Result<()> {
        for item in items {
            if self.waits_behind_parked(item) || fences.covers(item) {
                self.position.ack([item.seq], None, None);
                continue;
            }
            let mut single = BatchBuilder::new();
            single.push_ref(&item.op);
            let mut plan = single.take_plan();
            let since = Instant::now();
            let mut waits = conflict_backoff();
            let mut reported = false;
            // A duplicate key once every earlier event is applied is first answered by writing
            // the document's current source version (below), once.
            let mut reread = matches!(item.op.kind, WriteKind::Fetch);
            loop {
                match self
                    .reporter
                    .retry("applying an op to the target", || {
                        apply_plan(&self.source, &self.target, &plan)
                    })
                    .await
                {
                    Ok(outcome) => {
                        fences.record(outcome.found);
                        let items = std::slice::from_ref(item);
                        let gone = self.left_with_collection(items, outcome.gone).await;
                        self.settle_fetches(items, gone);
                        if let Some(guard) = &self.guard {
                            guard.written(items).await?;
                        }
                        self.position
                            .ack([item.seq], item.wall_ms, item.cluster_time);
                        break;
                    }
                    Err(e) if is_shape_conflict(&e) => {
                        // The delta does not fit the newer document on the target: re-read it.
                        plan = refetch_plan(&item.op);
                    }
                    Err(e)
                        if e.kind == ErrorKind::DuplicateKey
                            && self.position.seq() + 1 >= item.seq
                            && self.guard_took(item, &e).await? =>
                    {
                        self.position
                            .ack([item.seq], item.wall_ms, item.cluster_time);
                        break;
                    }
                    Err(e) if self.parking() && refused_for_good(&e) => {
                        self.park(item, &e)?;
                        break;
                    }
                    Err(e)
                        if e.kind == ErrorKind::DuplicateKey
                            && !reread
                            && self.position.seq() + 1 >= item.seq =>
                    {
                        // Every earlier event is applied, so the holder of the value took it
                        // later (another writer, or a batch in flight, came first): this op's
                        // version is already history. The document's current source version
                        // agrees with what the holder's events lead to; its own later events
                        // are covered by the fence the re-read records.
                        reread = true;
                        plan = refetch_plan(&item.op);
                    }
                    Err(e) if decide(&e) == Decision::SlowRetry => {
                        let earlier_all_applied = self.position.seq() + 1 >= item.seq;
                        if earlier_all_applied
                            && self.parking()
                            && since.elapsed() >= CONFLICT_REPORT_AFTER
                        {
                            self.park(item, &e)?;
                            break;
                        }
                        if earlier_all_applied
                            && since.elapsed() >= CONFLICT_REPORT_AFTER
                            && !reported
                        {
                            tracing::error!(error = %e, collection = %item.op.coll,
                                "write conflicts on the target even in stream order (a target-only unique index or document?); retrying until it is resolved");
                            self.reporter.record_error(&e);
                            reported = true;
                        }
                        let wait = waits.next().unwrap_or(CONFLICT_MAX_WAIT);
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = self.reporter.abort.cancelled() => return Err(cancelled("applying an op")),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// True when the guard took a unique-index refusal of `item`.
    async fn guard_took(&self, item: &Item, e: &crate::error::Error) -> Result<bool> {
        match &self.guard {
            Some(guard) => guard.refused(item, e).await,
            None => Ok(false),
        }
    }
}

/// The plan writing `op`'s document as the source has it now.
fn refetch_plan(op: &WriteOp) -> crate::apply::batch::BatchPlan {
    let mut fetch = BatchBuilder::new();
    fetch.push(WriteOp {
        kind: WriteKind::Fetch,
        ..op.clone()
    });
    fetch.take_plan()
}
