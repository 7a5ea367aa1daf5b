//! A writer owns a partition of the keyspace (hash of namespace + document key), so per-document
//! order holds while partitions are written in parallel. It batches by count, bytes and time,
//! applies the coalesced batch, and acknowledges the batch's sequence numbers only after the
//! target acknowledged the writes. Up to `apply.writes_in_flight` batches await the target at
//! once, never two writing the same document ([`super::send`]).
//!
//! Duplicate keys: a unique secondary index can reject a write only because another partition
//! has not yet applied an earlier event (doc A frees `x`, then doc B takes it). The writer then
//! replays its batch one op at a time in stream order, waiting for every earlier event to be
//! applied before calling a conflict real; a real one is reported (metric, `/status`, log) and
//! retried slowly, never skipped.

use super::fences::Fences;
use super::in_flight::InFlight;
use super::router::{Item, WriterMsg};
use super::send::{oldest, Sent};
use crate::apply::batch::BatchBuilder;
use crate::error::Result;
use crate::ops::{Op, Reporter};
use crate::source::translate::{CollectionUuid, WriteKind};
use crate::source::Endpoint;
use crate::state::GoneKeys;
use crate::state::Position;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Batch bounds.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_ops: usize,
    pub max_bytes: usize,
    pub max_delay: Duration,
}

pub struct Writer {
    pub source: Endpoint,
    pub target: Endpoint,
    pub position: Arc<Position>,
    pub reporter: Reporter,
    pub limits: BatchLimits,
    /// Keys fetches found gone (see [`crate::state::gone_keys`]).
    pub unresolved: Arc<parking_lot::Mutex<GoneKeys>>,
    /// This writer's partition and the number of partitions: it retries the parked documents
    /// that hash to it, so their order with later events holds.
    pub partition: (usize, usize),
    /// Decides per batch what is written (two-way sync); `None` writes everything.
    pub guard: Option<std::sync::Arc<dyn super::guard::ApplyGuard>>,
    /// `[history] enabled`: each batch's entries are written before the batch.
    pub history: Option<Arc<crate::history::changes::Changes>>,
    /// `apply.writes_in_flight`: batches sent and not yet acknowledged, at most.
    pub writes_in_flight: usize,
}

/// How long a conflicting op waits for earlier events before the conflict is reported.
pub(super) const CONFLICT_REPORT_AFTER: Duration = Duration::from_secs(5);
pub(super) const CONFLICT_MAX_WAIT: Duration = Duration::from_secs(30);
/// How often an idle writer looks for parked documents due for a retry.
const PARKED_POLL: Duration = Duration::from_secs(1);

impl Writer {
    /// Runs until the channel closes (everything received is applied first) or a fatal error.
    pub async fn run(self, rx: mpsc::Receiver<WriterMsg>) -> Result<()> {
        // Shared with the tasks writing its batches in flight.
        Arc::new(self).receive(rx).await
    }

    async fn receive(self: Arc<Self>, mut rx: mpsc::Receiver<WriterMsg>) -> Result<()> {
        let mut items: Vec<Item> = Vec::new();
        let mut builder = BatchBuilder::new();
        let mut fences = Fences::default();
        let mut covered: Vec<Item> = Vec::new();
        // The rest of a received `WriterMsg::Batch`, taken before the channel's next message.
        let mut backlog = Vec::new().into_iter();
        let mut sent: InFlight<Sent> = InFlight::default();
        loop {
            let first = match backlog.next() {
                Some(item) => WriterMsg::Op(item),
                None => tokio::select! {
                    // A batch in flight is acknowledged while no event waits: take its outcome.
                    joined = oldest(&mut sent) => {
                        self.settle(joined, &mut sent, &mut fences, &mut Vec::new()).await?;
                        continue;
                    }
                    received = tokio::time::timeout(PARKED_POLL, rx.recv()) => match received {
                        Ok(Some(m)) => m,
                        Ok(None) => return self.drain(&mut sent, &mut fences).await,
                        Err(_) => {
                            self.retry_parked(&mut fences).await?;
                            continue;
                        }
                    },
                },
            };
            let mut flush_waiters = Vec::new();
            let mut rewrite = None;
            let deadline = Instant::now() + self.limits.max_delay;
            let mut next = Some(first);
            loop {
                match next.take() {
                    Some(WriterMsg::Op(item)) => {
                        self.take_op(item, &fences, &mut builder, &mut items, &mut covered)
                    }
                    Some(WriterMsg::Batch(batch)) => backlog = batch.into_iter(),
                    Some(WriterMsg::Flush(tx)) => {
                        flush_waiters.push(tx);
                        break;
                    }
                    Some(WriterMsg::Rewrite(r)) => {
                        rewrite = Some(r);
                        break;
                    }
                    None => {}
                }
                if items.len() >= self.limits.max_ops || builder.bytes() >= self.limits.max_bytes {
                    break;
                }
                if let Some(item) = backlog.next() {
                    next = Some(WriterMsg::Op(item));
                    continue;
                }
                // Take what is already queued without waiting; wait only up to the deadline.
                match rx.try_recv() {
                    Ok(m) => next = Some(m),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                            Ok(Some(m)) => next = Some(m),
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
            }
            if !items.is_empty() || !covered.is_empty() {
                let batch = (std::mem::take(&mut items), std::mem::take(&mut covered));
                self.send(&mut builder, batch, &mut fences, &mut sent)
                    .await?;
            }
            if !flush_waiters.is_empty() || rewrite.is_some() {
                // Both come after every batch before them is acknowledged.
                self.drain(&mut sent, &mut fences).await?;
            }
            for w in flush_waiters {
                let _ = w.send(());
            }
            if let Some(r) = rewrite {
                // After the events routed before it: per-document order with the tail holds.
                self.rewrite_for_job(r, &mut fences).await?;
            }
            self.retry_parked(&mut fences).await?;
        }
    }

    /// Adds a received op to the batch, unless a parked document holds it back or a fence
    /// covers it (acknowledged then, or with history on recorded with the batch). `key` is
    /// the op's canonical key bytes when the router sent them.
    pub(super) fn take_op(
        &self,
        mut item: Item,
        fences: &Fences,
        builder: &mut BatchBuilder,
        items: &mut Vec<Item>,
        covered: &mut Vec<Item>,
    ) {
        if self.waits_behind_parked(&item) {
            self.position.ack([item.seq], None, None);
        } else if fences.covers(&item) {
            // Already in the target through a later fetch of this document.
            match self.history {
                Some(_) => covered.push(item),
                None => self.position.ack([item.seq], None, None),
            }
        } else {
            self.unskip(&mut item);
            fences.refetch_below_floor(&mut item);
            builder.push_ref(&item.op);
            items.push(item);
        }
    }

    /// Keeps the gone keys that may have left with their collection: a document missing from
    /// the very collection its events came from (same UUID now) was deleted in place, and its
    /// delete event follows; nothing to remember. Without a UUID (older servers), or when the
    /// check itself fails, every gone key is kept: remembering costs a little, forgetting
    /// could lose changes.
    pub(super) async fn left_with_collection(
        &self,
        items: &[Item],
        gone: Vec<(String, bson::Document)>,
    ) -> Vec<(String, bson::Document)> {
        if gone.is_empty() {
            return gone;
        }
        let mut colls: Vec<&str> = gone.iter().map(|(c, _)| c.as_str()).collect();
        colls.sort_unstable();
        colls.dedup();
        let mut deleted_in_place: Vec<String> = Vec::new();
        for coll in colls {
            // Within a batch every event of a collection has the same UUID: DDL is a barrier.
            let Some(at_event) = items
                .iter()
                .find(|i| i.op.coll == coll)
                .and_then(|i| i.coll_uuid)
            else {
                continue;
            };
            if let Ok(Some(now)) = crate::apply::collection_uuid(&self.source, coll).await {
                if CollectionUuid::of(&now) == Some(at_event) {
                    deleted_in_place.push(coll.to_string());
                }
            }
        }
        gone.into_iter()
            .filter(|(c, _)| !deleted_in_place.contains(c))
            .collect()
    }

    /// Updates the gone-key registry after `items` were applied: a delete or a full document
    /// of a key makes an earlier gone fetch of it moot; then the fetches that found nothing
    /// now are recorded. Runs before the items are acknowledged, so a checkpoint that covers
    /// them also carries what they recorded.
    pub(super) fn settle_fetches(&self, items: &[Item], gone: Vec<(String, bson::Document)>) {
        let mut unresolved = self.unresolved.lock();
        if !unresolved.is_empty() {
            for item in items {
                if matches!(item.op.kind, WriteKind::Delete | WriteKind::Upsert(_)) {
                    unresolved.resolve(&item.op.coll, &item.op.key);
                }
            }
        }
        for (coll, key) in gone {
            unresolved.record(&coll, key);
        }
    }

    /// Asks the guard which items to write: the kept ones (the builder holds just them) and
    /// the permit, or `None` when nothing is left to write (all acknowledged).
    pub(super) async fn admitted(
        &self,
        guard: &dyn super::guard::ApplyGuard,
        builder: &mut BatchBuilder,
        mut items: Vec<Item>,
    ) -> Result<Option<(Vec<Item>, Box<dyn Send + Sync>)>> {
        let admission = guard.admit(&mut items).await?;
        let _ = builder.take_plan();
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        for (item, keep) in items.into_iter().zip(admission.keep) {
            if keep {
                kept.push(item);
            } else {
                dropped.push(item);
            }
        }
        let wall = dropped.iter().filter_map(|i| i.wall_ms).max();
        let ct = dropped.iter().filter_map(|i| i.cluster_time).max();
        self.position.ack(dropped.iter().map(|i| i.seq), wall, ct);
        if kept.is_empty() {
            return Ok(None);
        }
        for item in &kept {
            builder.push_ref(&item.op);
        }
        Ok(Some((kept, admission.permit)))
    }

    /// Metrics of an applied batch, and its acknowledgement unless `acked` already.
    pub(super) fn record(&self, items: &[Item], ops_in: usize, seconds: f64, acked: bool) {
        let mut per_op: Vec<(Op, u64)> = Vec::with_capacity(4);
        for it in items {
            match per_op.iter_mut().find(|(l, _)| *l == it.op_label) {
                Some((_, n)) => *n += 1,
                None => per_op.push((it.op_label, 1)),
            }
        }
        let wall = items.iter().filter_map(|i| i.wall_ms).max();
        let ct = items.iter().filter_map(|i| i.cluster_time).max();
        if !acked {
            self.position.ack(items.iter().map(|i| i.seq), wall, ct);
        }
        self.reporter.batch_applied(
            &per_op,
            ops_in,
            seconds,
            (
                self.position.last_cluster_time(),
                self.position.last_applied_wall_ms(),
            ),
        );
    }
}

#[cfg(test)]
#[path = "writer_in_flight_tests.rs"]
mod in_flight_tests;
#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
