//! A writer owns a partition of the keyspace (hash of namespace + document key), so per-document
//! order holds while partitions are written in parallel. It batches by count, bytes and time,
//! applies the coalesced batch, and acknowledges the batch's sequence numbers only after the
//! target acknowledged the writes.
//!
//! Duplicate keys: a unique secondary index can reject a write only because another partition
//! has not yet applied an earlier event (doc A frees `x`, then doc B takes it). The writer then
//! replays its batch one op at a time in stream order, waiting for every earlier event to be
//! applied before calling a conflict real; a real one is reported (metric, `/status`, log) and
//! retried slowly, never skipped.

use super::fences::Fences;
use super::in_flight::{BatchKeys, InFlight};
use super::parking::refused_for_good;
use super::router::{Item, WriterMsg};
use crate::apply::batch::BatchBuilder;
use crate::apply::{apply_plan, is_shape_conflict};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::ops::{Op, Reporter};
use crate::source::translate::{ClusterTime, DocKey, WriteKind};
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

/// A batch on its way to the target.
struct Batch {
    plan: crate::apply::batch::BatchPlan,
    items: Vec<Item>,
    /// Fenced items recorded in the history with the batch (history on).
    covered: Vec<Item>,
    /// The guard's permit (two-way sync), held until the batch is written and reported.
    permit: Option<Box<dyn Send + Sync>>,
    started: Instant,
}

/// The task writing one batch in flight. Dropped (a fatal error elsewhere, the writer
/// stopping), it is aborted: its items stay unacknowledged and are replayed after a restart.
struct Sent(tokio::task::JoinHandle<Result<Outcome>>);

impl Drop for Sent {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Joined = std::result::Result<Result<Outcome>, tokio::task::JoinError>;

/// What became of a batch in flight.
enum Outcome {
    /// Written and acknowledged: the documents its fetches found (fences to record) and the
    /// newest cluster time among its items (fences to prune).
    Applied(Vec<crate::apply::Fetched>, Option<ClusterTime>),
    /// Refused in a way the in-order replay resolves; nothing acknowledged yet.
    Replay(Replay),
}

struct Replay {
    items: Vec<Item>,
    ops_in: usize,
    started: Instant,
    /// Held through the replay.
    #[allow(dead_code)]
    permit: Option<Box<dyn Send + Sync>>,
}

/// The end of the oldest batch's task; never, while none is in flight.
async fn oldest(sent: &mut InFlight<Sent>) -> Joined {
    match sent.front_mut() {
        Some(task) => (&mut task.0).await,
        None => std::future::pending().await,
    }
}

fn outcome_of(joined: Joined) -> Result<Outcome> {
    joined.map_err(|e| Error::new(ErrorKind::Internal, Class::Fatal, "writer batch", e.to_string()))?
}

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
        let mut sent: InFlight<Sent> = InFlight::default();
        loop {
            let first = tokio::select! {
                // A batch in flight is acknowledged while no event waits: take its outcome.
                joined = oldest(&mut sent) => {
                    self.settle(joined, &mut sent, &mut fences).await?;
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
            };
            let mut flush_waiters = Vec::new();
            let mut rewrite = None;
            let deadline = Instant::now() + self.limits.max_delay;
            let mut next = Some(first);
            loop {
                match next.take() {
                    Some(WriterMsg::Op(item)) => {
                        self.take_op(item, None, &fences, &mut builder, &mut items, &mut covered)
                    }
                    Some(WriterMsg::Keyed(item, key)) => {
                        let key = Some(key);
                        self.take_op(item, key, &fences, &mut builder, &mut items, &mut covered)
                    }
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
    fn take_op(
        &self,
        mut item: Item,
        key: Option<DocKey>,
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
            let key = key.unwrap_or_else(|| DocKey::of(&item.op.key));
            builder.push_keyed(&item.op, key);
            items.push(item);
        }
    }

    /// Batches this writer may have in flight: one at a time with a guard (two-way sync decides
    /// per batch against what is written) or with history on (entries are written before their
    /// batch, in stream order).
    fn in_flight_limit(&self) -> usize {
        match (&self.guard, &self.history) {
            (None, None) => self.writes_in_flight.max(1),
            _ => 1,
        }
    }

    /// Sends the collected batch as a task of its own, once no batch in flight writes one of
    /// its documents; then waits until fewer than the limit are in flight, so the next batch
    /// is collected while these await the target.
    async fn send(
        self: &Arc<Self>,
        builder: &mut BatchBuilder,
        (items, mut covered): (Vec<Item>, Vec<Item>),
        fences: &mut Fences,
        sent: &mut InFlight<Sent>,
    ) -> Result<()> {
        let started = Instant::now();
        let (mut items, permit) = match &self.guard {
            None => (items, None),
            Some(guard) => match self.admitted(guard.as_ref(), builder, items).await? {
                Some((kept, permit)) => (kept, Some(permit)),
                None => return Ok(()),
            },
        };
        let limit = self.in_flight_limit();
        let (mut plan, keys) = match limit {
            1 => (builder.take_plan(), Vec::new()),
            _ => builder.take_plan_keyed(),
        };
        let mut keys = BatchKeys::new(keys);
        let waits = sent.waits_for(&keys);
        let mut changed = false;
        let keep = sent.len() - waits;
        while sent.len() > keep {
            changed |= self.settle_next(sent, fences).await?;
        }
        if changed {
            // These items were taken while a batch writing some of their documents was in
            // flight: its fetches may fence them, its replay may have parked them.
            for item in std::mem::take(&mut items) {
                self.take_op(item, None, fences, builder, &mut items, &mut covered);
            }
            let (replanned, rekeyed) = builder.take_plan_keyed();
            (plan, keys) = (replanned, BatchKeys::new(rekeyed));
        }
        let batch = Batch {
            plan,
            items,
            covered,
            permit,
            started,
        };
        let writer = self.clone();
        let task = tokio::spawn(async move { writer.write(batch).await });
        sent.push(keys, Sent(task));
        while sent.len() >= limit {
            self.settle_next(sent, fences).await?;
        }
        Ok(())
    }

    /// One batch's round trip, in its own task: history first (with history on), then the
    /// plan; each item is acknowledged once the target acknowledged its write, whatever the
    /// batches sent before it are doing (the watermark passes only a contiguous applied
    /// prefix). A batch that needs the in-order replay comes back to the writer unacknowledged.
    async fn write(self: Arc<Self>, batch: Batch) -> Result<Outcome> {
        let Batch {
            plan,
            items,
            covered,
            permit,
            started,
        } = batch;
        if let Some(h) = &self.history {
            let all = crate::history::changes::in_stream_order(&items, &covered);
            let record = || h.record(&self.target, &all);
            self.reporter.retry("recording history", record).await?;
            self.position.ack(covered.iter().map(|i| i.seq), None, None);
        }
        if items.is_empty() {
            return Ok(Outcome::Applied(Vec::new(), None));
        }
        let result = self
            .reporter
            .retry("applying a batch to the target", || {
                apply_plan(&self.source, &self.target, &plan)
            })
            .await;
        match result {
            Ok(outcome) => {
                let gone = self.left_with_collection(&items, outcome.gone).await;
                self.settle_fetches(&items, gone);
                if let Some(guard) = &self.guard {
                    guard.written(&items).await?;
                }
                self.applied(&items, plan.ops_in, started, false);
                drop(permit);
                let seen = items.iter().filter_map(|i| i.cluster_time).max();
                Ok(Outcome::Applied(outcome.found, seen))
            }
            Err(e)
                if e.kind == ErrorKind::DuplicateKey
                    || is_shape_conflict(&e)
                    || (self.parking() && refused_for_good(&e)) =>
            {
                Ok(Outcome::Replay(Replay {
                    items,
                    ops_in: plan.ops_in,
                    started,
                    permit,
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// Waits for the oldest batch in flight and takes its outcome ([`Self::settle`]).
    async fn settle_next(&self, sent: &mut InFlight<Sent>, fences: &mut Fences) -> Result<bool> {
        let joined = oldest(sent).await;
        self.settle(joined, sent, fences).await
    }

    /// Takes the outcome of the oldest batch in flight, whose task ended with `joined`: its
    /// fences, or its in-order replay. A replay runs alone, after every later batch in flight
    /// came back (their own replays follow it, in stream order). True when the fences or the
    /// parked documents may have changed for keys of the batch being collected.
    async fn settle(
        &self,
        joined: Joined,
        sent: &mut InFlight<Sent>,
        fences: &mut Fences,
    ) -> Result<bool> {
        drop(sent.pop_front());
        let mut outcomes = vec![outcome_of(joined)?];
        if matches!(outcomes[0], Outcome::Replay(_)) {
            while let Some(mut later) = sent.pop_front() {
                outcomes.push(outcome_of((&mut later.0).await)?);
            }
        }
        let mut changed = false;
        for outcome in outcomes {
            changed |= match outcome {
                Outcome::Applied(found, seen) => {
                    let fenced = !found.is_empty();
                    fences.record(found);
                    fences.prune(seen);
                    fenced
                }
                Outcome::Replay(r) => {
                    // Acknowledges each op as it is written.
                    self.apply_in_order(&r.items, fences).await?;
                    fences.prune(r.items.iter().filter_map(|i| i.cluster_time).max());
                    self.applied(&r.items, r.ops_in, r.started, true);
                    true
                }
            };
        }
        Ok(changed)
    }

    /// Takes the outcome of every batch in flight (flush, rewrite, shutdown).
    async fn drain(&self, sent: &mut InFlight<Sent>, fences: &mut Fences) -> Result<()> {
        while !sent.is_empty() {
            self.settle_next(sent, fences).await?;
        }
        Ok(())
    }

    /// An applied batch: metrics, its acknowledgement unless `acked` already, and its keys for
    /// the continuous verifier's re-check sample.
    fn applied(&self, items: &[Item], ops_in: usize, started: Instant, acked: bool) {
        self.record(items, ops_in, started.elapsed().as_secs_f64(), acked);
        (self.reporter.status.recent_keys())
            .applied(items.iter().map(|i| (i.op.coll.as_str(), &i.op.key)));
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
                .and_then(|i| i.coll_uuid.as_ref())
            else {
                continue;
            };
            if let Ok(Some(now)) = crate::apply::collection_uuid(&self.source, coll).await {
                if &now == at_event {
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
    async fn admitted(
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
    fn record(&self, items: &[Item], ops_in: usize, seconds: f64, acked: bool) {
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
#[path = "writer_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "writer_in_flight_tests.rs"]
mod in_flight_tests;
