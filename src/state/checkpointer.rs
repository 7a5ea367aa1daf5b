//! Persists the watermark's resume token at most every `checkpoint.interval_ms` (and on demand:
//! after DDL, at shutdown), and derives the health signals that depend on it: checkpoint age,
//! lag (0 when nothing is pending), and stall (events arriving, watermark not moving).

use crate::error::Result;
use crate::ops::Reporter;
use crate::state::checkpoint::{Checkpoint, CheckpointStore};
use crate::state::GoneKeys;
use crate::state::Position;
use bson::Document;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// How long the watermark may stand still while events are pending before `/readyz` fails.
pub const STALL_AFTER: Duration = Duration::from_secs(30);

pub struct Checkpointer {
    pub store: CheckpointStore,
    pub state: Mutex<Checkpoint>,
    pub position: Arc<Position>,
    pub reporter: Reporter,
    /// Shared with the writers (which record and resolve) and the watcher (renames, drops);
    /// copied into the state at every save.
    pub unresolved: Arc<parking_lot::Mutex<GoneKeys>>,
    saved: parking_lot::Mutex<SavedMark>,
}

struct SavedMark {
    seq: u64,
    at: Instant,
}

impl Checkpointer {
    pub fn new(
        store: CheckpointStore,
        state: Checkpoint,
        position: Arc<Position>,
        reporter: Reporter,
    ) -> Arc<Self> {
        let unresolved = GoneKeys::from_docs(&state.unresolved_fetches);
        Arc::new(Checkpointer {
            store,
            unresolved: Arc::new(parking_lot::Mutex::new(unresolved)),
            state: Mutex::new(state),
            position,
            reporter,
            saved: parking_lot::Mutex::new(SavedMark {
                seq: 0,
                at: Instant::now(),
            }),
        })
    }

    /// Saves the current watermark if it moved since the last save.
    pub async fn save_now(&self) -> Result<()> {
        let (token, seq, _) = self.position.snapshot();
        let Some(token) = token else { return Ok(()) };
        if seq == self.saved.lock().seq {
            return Ok(());
        }
        self.save_token(token, seq).await
    }

    /// The last save of a tail: `clean` when every writer drained without error.
    pub async fn save_final(&self, clean: bool) -> Result<()> {
        let (token, seq, _) = self.position.snapshot();
        let mut state = self.state.lock().await;
        if let Some(token) = token {
            state.resume_token = Some(token);
        }
        state.clean = clean && !state.copying;
        self.write(&mut state, seq).await
    }

    async fn save_token(&self, token: Document, seq: u64) -> Result<()> {
        let mut state = self.state.lock().await;
        state.resume_token = Some(token);
        state.clean = false;
        self.write(&mut state, seq).await
    }

    /// Saves the whole state as it is (copy position, pending indexes).
    pub async fn save_state(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        state.clean = false;
        self.write(&mut state, self.position.seq()).await
    }

    /// Every save: the gone keys as they are now, the store write, and the saved mark (`seq`).
    async fn write(&self, state: &mut Checkpoint, seq: u64) -> Result<()> {
        state.unresolved_fetches = self.unresolved.lock().to_docs();
        self.store.save(state).await?;
        *self.saved.lock() = SavedMark {
            seq,
            at: Instant::now(),
        };
        self.reporter.checkpoint_saved();
        Ok(())
    }

    /// Ticks until `stop`: saves, and refreshes lag, checkpoint age and stall.
    pub async fn run(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(interval.min(Duration::from_secs(1)));
        let mut last_save = Instant::now();
        let mut watch = StallWatch::new();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            if last_save.elapsed() >= interval {
                last_save = Instant::now();
                if let Err(e) = self.save_now().await {
                    tracing::warn!(error = %e, "checkpoint write failed; will retry");
                    self.reporter.record_error(&e);
                }
            }
            self.refresh_health(&mut watch);
        }
    }

    fn refresh_health(&self, watch: &mut StallWatch) {
        let (_, seq, pending) = self.position.snapshot();
        let age = self.saved.lock().at.elapsed().as_secs_f64();
        let lag = self
            .position
            .lag_seconds(bson::DateTime::now().timestamp_millis());
        self.reporter.health(lag, age, watch.update(seq, pending));
    }
}

/// Stalled: events are pending and the watermark has not moved for [`STALL_AFTER`].
struct StallWatch {
    seq: u64,
    since: Instant,
}

impl StallWatch {
    fn new() -> Self {
        StallWatch {
            seq: 0,
            since: Instant::now(),
        }
    }

    fn update(&mut self, seq: u64, pending: usize) -> bool {
        if seq != self.seq || pending == 0 {
            self.seq = seq;
            self.since = Instant::now();
            return false;
        }
        self.since.elapsed() >= STALL_AFTER
    }
}
