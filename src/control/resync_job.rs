//! Runs resync jobs ([`crate::control::jobs`]) while the tail runs, one at a time: compares the
//! collection (merge join in `_id` order) or the listed `_id`s on both sides, and for each
//! document that differs routes a [`Rewrite`] to the writer of its partition, the one that
//! applies its stream events: that writer re-reads the source's current version and writes it
//! (or deletes the document from the backup when the source has none) in order with them, so
//! the newest version wins. Job items are not stream events: the checkpoint does not move for
//! them. While the collection (or everything) is paused the job waits; nothing else pauses.
//!
//! Job items are keyed by `_id` alone: a source collection sharded on more fields keys its
//! events by `_id` and the shard key, which may route them to another writer (not supported).

use crate::bulk::by_ids::read_by_ids;
use crate::bulk::merge_join::{id_ordered, MergeJoin, Pair};
use crate::control::jobs::{Counts, Spec};
use crate::error::retry::{backoff, decide, Decision};
use crate::error::{Error, Origin, Result};
use crate::ops::Reporter;
use crate::source::Endpoint;
use crate::tail::rewrite::{Rewrite, Rewritten};
use crate::tail::router::WriterMsg;
use backon::BackoffBuilder;
use bson::{doc, Bson, Document};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use std::collections::BTreeSet;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Job items sent to the writers and not answered yet, at most.
const IN_FLIGHT: usize = 256;
/// Documents per batch of the comparing scans.
const SCAN_BATCH: u32 = 1000;

/// The tail's job runner: its writers' channels and both sides.
pub struct Runner {
    pub source: Endpoint,
    pub target: Endpoint,
    pub writers: Vec<mpsc::Sender<WriterMsg>>,
    pub reporter: Reporter,
}

/// Why a job did not finish: the tail stopped (the job goes back to the queue), or it failed.
enum Cut {
    Stopped,
    Failed(Error),
}

impl From<Error> for Cut {
    fn from(e: Error) -> Self {
        Cut::Failed(e)
    }
}

impl Runner {
    /// Takes queued jobs until `stop`; a job cut short goes back to the queue.
    pub async fn run(self, stop: CancellationToken) {
        let jobs = self.reporter.status.jobs().clone();
        loop {
            let (id, spec) = tokio::select! {
                job = jobs.next() => job,
                _ = stop.cancelled() => return,
            };
            tracing::info!(job = %id, collection = %spec.collection, ids = spec.ids.as_ref().map(Vec::len), "resync job started");
            let outcome = tokio::select! {
                r = self.execute(&id, &spec) => r,
                _ = stop.cancelled() => Err(Cut::Stopped),
            };
            match outcome {
                Ok(()) => {
                    jobs.finish(&id, None);
                    self.record(&id, &spec);
                    tracing::info!(job = %id, collection = %spec.collection, "resync job done");
                }
                Err(Cut::Failed(e)) => {
                    tracing::error!(job = %id, collection = %spec.collection, error = %e, "resync job failed");
                    jobs.finish(&id, Some(e.to_string()));
                }
                Err(Cut::Stopped) => {
                    tracing::info!(job = %id, "resync job cut short by the end of the tail; queued again");
                    jobs.requeue(&id);
                    return;
                }
            }
        }
    }

    /// A finished job goes into the run history; a whole-collection job also ends the
    /// collection's skipped documents (its writes made every document current; an `_id`s job
    /// ended those it rewrote, document by document).
    fn record(&self, id: &str, spec: &Spec) {
        let mut counts = Counts::default();
        self.reporter.status.jobs().count(id, |c| counts = *c);
        let counts = [
            ("examined", counts.examined),
            ("rewritten", counts.rewritten),
            ("deleted", counts.deleted),
            ("parked", counts.parked),
        ];
        match spec.ids {
            None => self.reporter.resync_finished(&spec.collection, &counts),
            Some(_) => {
                let runs = self.reporter.status.runs();
                runs.record_resync(&spec.collection, &counts);
            }
        }
    }

    async fn execute(&self, id: &str, spec: &Spec) -> std::result::Result<(), Cut> {
        let mut waits = backoff().build();
        loop {
            let mut items = Items::new(self, id, &spec.collection);
            // Compare only once the collection flows (cursors left idle could time out).
            items.unpaused().await;
            let pass = match &spec.ids {
                None => self.whole(&mut items).await,
                Some(ids) => self.listed(&mut items, ids).await,
            };
            let outcome = match pass {
                Ok(()) => items.settle_all().await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(Cut::Failed(e)) if decide(&e) == Decision::Backoff => {
                    // A read failed for a while: compare again from the start (what was
                    // already repaired compares equal now).
                    self.reporter.record_error(&e);
                    tracing::warn!(job = %id, error = %e, "resync job read failed; comparing again");
                    tokio::time::sleep(waits.next().unwrap_or_default()).await;
                }
                other => return other,
            }
        }
    }

    /// The whole collection: a merge join of both sides in `_id` order.
    async fn whole(&self, items: &mut Items<'_>) -> std::result::Result<(), Cut> {
        let coll = items.coll;
        let s = id_ordered(&self.source, coll, false, SCAN_BATCH, Origin::Source).await?;
        let t = id_ordered(&self.target, coll, false, SCAN_BATCH, Origin::Target).await?;
        let mut join = MergeJoin::new(s, t).await?;
        while let Some(pair) = join.next().await? {
            let differs = match &pair {
                Pair::Both(a, b) => a.as_bytes() != b.as_bytes(),
                Pair::SourceOnly(_) | Pair::TargetOnly(_) => true,
            };
            let id = match &pair {
                Pair::Both(d, _) | Pair::SourceOnly(d) | Pair::TargetOnly(d) => {
                    crate::bulk::merge_join::raw_id(d)?
                }
            };
            items.examined(1);
            if differs {
                items.send(id).await?;
            }
        }
        Ok(())
    }

    /// The listed `_id`s: read on both sides, compared by the `_id` each document carries.
    async fn listed(&self, items: &mut Items<'_>, ids: &[Bson]) -> std::result::Result<(), Cut> {
        let coll = items.coll;
        let source = read_by_ids(&self.source, coll, ids, Origin::Source).await?;
        let target = read_by_ids(&self.target, coll, ids, Origin::Target).await?;
        let keys: BTreeSet<_> = source.keys().chain(target.keys()).collect();
        for key in keys {
            let (s, t) = (source.get(key), target.get(key));
            let differs = match (s, t) {
                (Some((_, a)), Some((_, b))) => a.as_bytes() != b.as_bytes(),
                _ => true,
            };
            if differs {
                let (id, _) = s.or(t).expect("a key of either side");
                items.send(id.clone()).await?;
            }
        }
        items.examined(ids.len() as u64);
        Ok(())
    }
}

/// The job items of one pass in flight, and their counts.
struct Items<'a> {
    runner: &'a Runner,
    job: &'a str,
    coll: &'a str,
    pending: FuturesUnordered<oneshot::Receiver<Result<Rewritten>>>,
}

impl<'a> Items<'a> {
    fn new(runner: &'a Runner, job: &'a str, coll: &'a str) -> Self {
        Items {
            runner,
            job,
            coll,
            pending: FuturesUnordered::new(),
        }
    }

    fn count(&self, change: impl FnOnce(&mut Counts)) {
        self.runner.reporter.status.jobs().count(self.job, change);
    }

    fn examined(&self, n: u64) {
        self.count(|c| c.examined += n);
    }

    /// Routes the repair of `_id` to its writer, once the collection is not paused and fewer
    /// than [`IN_FLIGHT`] items wait for an answer.
    async fn send(&mut self, id: Bson) -> std::result::Result<(), Cut> {
        while self.pending.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        self.unpaused().await;
        let coll = self.coll;
        let key: Document = doc! {"_id": id};
        let Some(answer) = Rewrite::route(&self.runner.writers, coll, key).await else {
            return Err(Cut::Stopped);
        };
        self.pending.push(answer);
        Ok(())
    }

    /// Waits while the collection, or everything, is paused, and while `apply.hold` holds the
    /// collection (a repair would apply what a person must decide on); the runner's stop ends
    /// the wait by dropping it.
    async fn unpaused(&self) {
        let pauses = self.runner.reporter.status.pauses();
        let coll = self.coll;
        if pauses.all() || pauses.is_paused(coll) {
            let never = CancellationToken::new();
            pauses
                .wait_while(|p| p.all() || p.is_paused(coll), &never)
                .await;
        }
        let holds = self.runner.reporter.status.holds();
        loop {
            let mut changes = holds.subscribe();
            if !holds.is_held(coll) || changes.changed().await.is_err() {
                return;
            }
        }
    }

    async fn settle_one(&mut self) -> std::result::Result<(), Cut> {
        match self.pending.next().await {
            None => Ok(()),
            // The writer went away: the tail is stopping.
            Some(Err(_)) => Err(Cut::Stopped),
            Some(Ok(Err(e))) => Err(Cut::Failed(e)),
            Some(Ok(Ok(done))) => {
                self.count(|c| match done {
                    Rewritten::Written => c.rewritten += 1,
                    Rewritten::Deleted => c.deleted += 1,
                    Rewritten::Parked => c.parked += 1,
                });
                Ok(())
            }
        }
    }

    async fn settle_all(&mut self) -> std::result::Result<(), Cut> {
        while !self.pending.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}
