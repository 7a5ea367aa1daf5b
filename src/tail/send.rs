//! The writer's batches in flight (`apply.writes_in_flight`): each collected batch is written by
//! a task of its own, sent once no batch in flight writes one of its documents
//! ([`super::in_flight`]); its items are acknowledged as soon as the target acknowledged them
//! (the watermark passes only a contiguous applied prefix), and the writer takes the outcomes
//! in send order: the fences a batch's fetches found, or its in-order replay, which runs alone.

use super::fences::Fences;
use super::in_flight::{BatchKeys, InFlight};
use super::parking::refused_for_good;
use super::router::Item;
use super::writer::Writer;
use crate::apply::batch::{BatchBuilder, BatchPlan};
use crate::apply::{apply_plan, is_shape_conflict};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::source::translate::ClusterTime;
use std::sync::Arc;
use std::time::Instant;

/// A batch on its way to the target.
struct Batch {
    plan: BatchPlan,
    items: Vec<Item>,
    /// Fenced items recorded in the history with the batch (history on).
    covered: Vec<Item>,
    /// The guard's permit (two-way sync), held until the batch is written and reported.
    permit: Option<Box<dyn Send + Sync>>,
    started: Instant,
    /// Whether its newest cluster time may prune fences once it is applied: not for the part
    /// of a split batch sent first, whose earlier held-back items are still to be taken.
    prunes: bool,
}

/// The task writing one batch in flight. Dropped (a fatal error elsewhere, the writer
/// stopping), it is aborted: its items stay unacknowledged and are replayed after a restart.
pub(super) struct Sent(tokio::task::JoinHandle<Result<Outcome>>);

impl Drop for Sent {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) type Joined = std::result::Result<Result<Outcome>, tokio::task::JoinError>;

/// What became of a batch in flight.
pub(super) enum Outcome {
    /// Written and acknowledged: the documents its fetches found (fences to record) and the
    /// newest cluster time among its items (fences to prune).
    Applied(Vec<crate::apply::Fetched>, Option<ClusterTime>),
    /// Refused in a way the in-order replay resolves; nothing acknowledged yet.
    Replay(Replay),
}

pub(super) struct Replay {
    items: Vec<Item>,
    ops_in: usize,
    started: Instant,
    /// Held through the replay.
    #[allow(dead_code)]
    permit: Option<Box<dyn Send + Sync>>,
}

/// The end of the oldest batch's task; never, while none is in flight.
pub(super) async fn oldest(sent: &mut InFlight<Sent>) -> Joined {
    match sent.front_mut() {
        Some(task) => (&mut task.0).await,
        None => std::future::pending().await,
    }
}

fn outcome_of(joined: Joined) -> Result<Outcome> {
    joined.map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "writer batch",
            e.to_string(),
        )
    })?
}

impl Writer {
    /// Batches this writer may have in flight: one at a time with a guard (two-way sync decides
    /// per batch against what is written) or with history on (entries are written before their
    /// batch, in stream order).
    fn in_flight_limit(&self) -> usize {
        let pipelined = self.guard.is_none() && self.history.is_none();
        super::writer_count::in_flight_per_writer(self.writes_in_flight, pipelined)
    }

    /// Sends the collected batch as a task of its own, once no batch in flight writes one of
    /// its documents; then waits until fewer than the limit are in flight, so the next batch
    /// is collected while these await the target. A batch only some of whose documents are in
    /// flight is split: the others are sent at once, the rest once those batches came back
    /// (half of a catch-up's batches share a document with one in flight; waiting whole, they
    /// kept 2 of 4 batches in flight on average).
    pub(super) async fn send(
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
        // The items held back from a split batch: a replay while they wait takes them too.
        let mut held = None;
        // Whether no batch in flight writes any of them (nothing to wait for).
        let mut all_free = sent.is_empty();
        if limit > 1 && !all_free {
            // Decided before any statement is built: each part is planned once.
            let (blocked, free): (Vec<Item>, Vec<Item>) =
                (items.into_iter()).partition(|i| sent.writes(&i.op.coll, &i.op.key));
            all_free = blocked.is_empty();
            if all_free || free.is_empty() {
                items = if all_free { free } else { blocked };
            } else {
                // The builder holds the whole batch: both parts are pushed again.
                drop(std::mem::take(builder));
                let (free_plan, free_keys) = planned(builder, &free);
                let first = Batch {
                    plan: free_plan,
                    items: free,
                    covered: Vec::new(),
                    permit: None,
                    started,
                    prunes: false,
                };
                self.dispatch(first, free_keys, sent);
                for item in &blocked {
                    builder.push_ref(&item.op);
                }
                (items, held) = (Vec::new(), Some(blocked));
            }
        }
        let (mut plan, mut keys) = match limit {
            1 => (builder.take_plan(), BatchKeys::new(Vec::new())),
            _ => take_keyed(builder),
        };
        let waits = match all_free {
            true => 0,
            false => sent.waits_for(&keys),
        };
        let mut changed = false;
        let keep = sent.len() - waits;
        while sent.len() > keep {
            let mut none = Vec::new();
            let held = held.as_mut().unwrap_or(&mut none);
            changed |= self.settle_next(sent, fences, held).await?;
        }
        if let Some(held) = held {
            if held.is_empty() && covered.is_empty() {
                // A replay wrote them.
                return self.below_limit(sent, fences).await;
            }
            items = held;
        }
        if changed {
            // These items were taken while a batch writing some of their documents was in
            // flight: its fetches may fence them, its replay may have parked them.
            for item in std::mem::take(&mut items) {
                self.take_op(item, fences, builder, &mut items, &mut covered);
            }
            (plan, keys) = take_keyed(builder);
        }
        let batch = Batch {
            plan,
            items,
            covered,
            permit,
            started,
            prunes: true,
        };
        self.dispatch(batch, keys, sent);
        self.below_limit(sent, fences).await
    }

    /// Starts the task writing `batch`.
    fn dispatch(self: &Arc<Self>, batch: Batch, keys: BatchKeys, sent: &mut InFlight<Sent>) {
        let writer = self.clone();
        let task = tokio::spawn(async move { writer.write(batch).await });
        sent.push(keys, Sent(task));
    }

    /// Takes outcomes until fewer than the limit are in flight.
    async fn below_limit(&self, sent: &mut InFlight<Sent>, fences: &mut Fences) -> Result<()> {
        while sent.len() >= self.in_flight_limit() {
            self.settle_next(sent, fences, &mut Vec::new()).await?;
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
            prunes,
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
                Ok(Outcome::Applied(outcome.found, seen.filter(|_| prunes)))
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
    async fn settle_next(
        &self,
        sent: &mut InFlight<Sent>,
        fences: &mut Fences,
        held: &mut Vec<Item>,
    ) -> Result<bool> {
        let joined = oldest(sent).await;
        self.settle(joined, sent, fences, held).await
    }

    /// Takes the outcome of the oldest batch in flight, whose task ended with `joined`: its
    /// fences, or its in-order replay. A replay runs alone, after every later batch in flight
    /// came back, over all their refused items and the `held` items of a split batch (emptied)
    /// in stream order: a refused item's earlier events may be among them. Fences are pruned
    /// after the replay, which checks its items against them. True when the fences or the
    /// parked documents may have changed for keys of the batch being collected.
    pub(super) async fn settle(
        &self,
        joined: Joined,
        sent: &mut InFlight<Sent>,
        fences: &mut Fences,
        held: &mut Vec<Item>,
    ) -> Result<bool> {
        drop(sent.pop_front());
        let mut outcomes = vec![outcome_of(joined)?];
        if matches!(outcomes[0], Outcome::Replay(_)) {
            while let Some(mut later) = sent.pop_front() {
                outcomes.push(outcome_of((&mut later.0).await)?);
            }
        }
        let mut changed = false;
        let mut newest = None;
        let mut replays = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Applied(found, seen) => {
                    changed |= !found.is_empty();
                    fences.record(found);
                    newest = newest.max(seen);
                }
                Outcome::Replay(r) => replays.push(r),
            }
        }
        if let Some(first) = replays.first() {
            let started = first.started;
            let mut items = std::mem::take(held);
            let mut ops_in = items.len();
            for r in &mut replays {
                items.append(&mut r.items);
                ops_in += r.ops_in;
            }
            items.sort_by_key(|i| i.seq);
            // Acknowledges each op as it is written.
            self.apply_in_order(&items, fences).await?;
            newest = newest.max(items.iter().filter_map(|i| i.cluster_time).max());
            self.applied(&items, ops_in, started, true);
            changed = true;
        }
        fences.prune(newest);
        Ok(changed)
    }

    /// Takes the outcome of every batch in flight (flush, rewrite, shutdown).
    pub(super) async fn drain(&self, sent: &mut InFlight<Sent>, fences: &mut Fences) -> Result<()> {
        while !sent.is_empty() {
            self.settle_next(sent, fences, &mut Vec::new()).await?;
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
}

/// `items`' plan and keys (a split batch's part sent first; each key's items are all in one
/// part, in stream order, so coalescing is the same).
fn planned(builder: &mut BatchBuilder, items: &[Item]) -> (BatchPlan, BatchKeys) {
    for item in items {
        builder.push_ref(&item.op);
    }
    take_keyed(builder)
}

/// The builder's plan and the keys it writes.
fn take_keyed(builder: &mut BatchBuilder) -> (BatchPlan, BatchKeys) {
    let (plan, keys) = builder.take_plan_keyed();
    (plan, BatchKeys::new(keys))
}
