//! Continuous verification (`[verify.continuous]`, on by default in `run`): beside the tail,
//! full sweeps compare every collection in `_id` ranges ([`sweep`]) and recently applied
//! documents are checked after a settle delay ([`recent`]). A mismatch is a candidate, settled
//! once the tail applied past the source read ([`recheck`]); one that survives is a divergence,
//! reported ([`divergences`], metrics, bus) and repaired through the writers ([`repair`]).

mod ddl;
pub mod divergences;
pub mod metrics;
pub mod position;
pub mod recent;
pub mod recheck;
mod repair;
mod sweep;

use crate::config::Config;
use crate::ops::Reporter;
use crate::source::Endpoint;
use crate::state::Position;
use crate::tail::router::WriterMsg;
use bson::Bson;
use futures::StreamExt;
use position::PositionStore;
use recheck::{Settler, Verdict};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Candidates queued for settling, at most (more are dropped: the next sweep finds them).
const QUEUED_CANDIDATES: usize = 1024;
/// Candidates settled at once.
const SETTLING_AT_ONCE: usize = 8;
/// Settling attempts of a moving document before it is left to the next sweep.
const ATTEMPTS: usize = 5;
/// Between two attempts.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// How long one settle waits for the tail to get past the source read.
const TAIL_WAIT: Duration = Duration::from_secs(10);
/// How often the recent-changes queue is looked at.
const RECENT_POLL: Duration = Duration::from_millis(250);
/// After a failed sweep (a side unreachable), the next attempt.
const SWEEP_RETRY: Duration = Duration::from_secs(5);

/// A mismatch to settle.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub coll: String,
    pub id: Bson,
    /// `sweep` or `recent`.
    pub found: &'static str,
}

/// The verifier of one tail.
pub struct Verifier {
    pub cfg: Arc<Config>,
    pub source: Endpoint,
    pub target: Endpoint,
    /// The tail's writers: repairs go to the writer of the document's partition.
    pub writers: Vec<mpsc::Sender<WriterMsg>>,
    pub reporter: Reporter,
    pub position: Arc<Position>,
    store: PositionStore,
    candidates: mpsc::Sender<Candidate>,
}

impl Verifier {
    /// Runs until `stop` (a no-op when `verify.continuous.enabled` is false).
    pub async fn run(
        cfg: Arc<Config>,
        (source, target): (Endpoint, Endpoint),
        writers: Vec<mpsc::Sender<WriterMsg>>,
        reporter: Reporter,
        position: Arc<Position>,
        stop: CancellationToken,
    ) {
        let c = &cfg.verify.continuous;
        if !c.enabled {
            return;
        }
        reporter.metrics.verify.set_max_sweep_age(c.max_sweep_age());
        reporter.status.recent_keys().set_ratio(c.sample_ratio);
        let (tx, rx) = mpsc::channel(QUEUED_CANDIDATES);
        let v = Verifier {
            store: PositionStore::open(&cfg, target.client()),
            cfg: cfg.clone(),
            source,
            target,
            writers,
            reporter: reporter.clone(),
            position,
            candidates: tx,
        };
        tokio::select! {
            _ = v.sweeping() => {}
            _ = v.settling(rx) => {}
            _ = v.sampling() => {}
            _ = stop.cancelled() => {}
        }
        reporter.status.recent_keys().set_ratio(0.0);
    }

    fn divergences(&self) -> &divergences::Divergences {
        self.reporter.status.divergences()
    }

    /// Queues a candidate; a full queue drops it (the next sweep or sample finds it again).
    fn candidate(&self, c: Candidate) -> bool {
        self.candidates.try_send(c).is_ok()
    }

    async fn sweeping(&self) {
        loop {
            let pos = match self.store.load().await {
                Ok(p) => p.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %e, "continuous verify: the sweep position is unreadable; starting a new sweep");
                    Default::default()
                }
            };
            if let Err(e) = self.sweeps(pos).await {
                tracing::warn!(error = %e, "continuous verify: sweep interrupted; resuming from the saved position");
                tokio::time::sleep(SWEEP_RETRY).await;
            }
        }
    }

    /// Settles queued candidates, several at once.
    async fn settling(&self, mut rx: mpsc::Receiver<Candidate>) {
        futures::stream::poll_fn(|cx| rx.poll_recv(cx))
            .for_each_concurrent(SETTLING_AT_ONCE, |c| self.settle(c))
            .await;
    }

    async fn settle(&self, c: Candidate) {
        let settler = Settler {
            source: &self.source,
            target: &self.target,
            position: &self.position,
            wait: TAIL_WAIT,
        };
        for attempt in 0..ATTEMPTS {
            self.unpaused(&c.coll).await;
            match settler.settle(&c.coll, &c.id).await {
                Ok(Verdict::Same) => return,
                Ok(Verdict::Diverged(kind)) => return self.diverged(&c, kind).await,
                Ok(Verdict::Moving) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "continuous verify: settling a candidate failed");
                }
            }
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
        tracing::debug!(collection = %c.coll, "continuous verify: a document kept moving; the next sweep compares it again");
    }

    /// Takes settled recent keys, at most `docs_per_second` a second.
    async fn sampling(&self) {
        let per_poll = (self.cfg.verify.continuous.docs_per_second as f64
            * RECENT_POLL.as_secs_f64())
        .ceil() as usize;
        loop {
            tokio::time::sleep(RECENT_POLL).await;
            let keys = self
                .reporter
                .status
                .recent_keys()
                .settled(Instant::now(), per_poll.max(1));
            for (coll, id) in keys {
                let queued = self.candidate(Candidate {
                    coll,
                    id,
                    found: "recent",
                });
                if queued {
                    self.reporter.metrics.verify.compared(1);
                }
            }
        }
    }

    /// Waits while `coll` (or everything) is paused: its events are held, nothing settles.
    async fn unpaused(&self, coll: &str) {
        let pauses = self.reporter.status.pauses();
        if pauses.all() || pauses.is_paused(coll) {
            let never = CancellationToken::new();
            pauses
                .wait_while(|p| p.all() || p.is_paused(coll), &never)
                .await;
        }
    }
}
