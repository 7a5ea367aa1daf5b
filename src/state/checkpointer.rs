//! Persists the watermark's resume token at most every `checkpoint.interval_ms` (and on demand:
//! after DDL, at shutdown), and refreshes the health signals that depend on it
//! ([`crate::ops::health`]). The only owner of checkpoint mutation.

use crate::error::Result;
use crate::ops::health::{self, StallWatch};
use crate::ops::Reporter;
use crate::state::checkpoint::Checkpoint;
use crate::state::store::CheckpointStore;
use crate::state::GoneKeys;
use crate::state::Position;
use crate::state::SourceIdentity;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

pub struct Checkpointer {
    store: Arc<dyn CheckpointStore>,
    pub state: Mutex<Checkpoint>,
    pub position: Arc<Position>,
    pub reporter: Reporter,
    /// Shared with the writers (which record and resolve) and the watcher (renames, drops);
    /// copied into the state at every save.
    pub unresolved: Arc<parking_lot::Mutex<GoneKeys>>,
    marks: parking_lot::Mutex<Marks>,
    /// The source being followed, stamped on every save (adopted by a version-1 checkpoint).
    source: parking_lot::Mutex<Option<SourceIdentity>>,
    /// The source selection copied, stamped on every save once set ([`Self::set_selection`]).
    selection: parking_lot::Mutex<Option<crate::source::namespaces::Selection>>,
}

/// Which watermark position the state's token and the stored token cover. Changed only under the
/// state lock, so every save reads the position and writes in one critical section.
struct Marks {
    /// The state's `resume_token` covers every event up to this watermark seq: the watermark's
    /// own token at that seq, or a start point recorded after it ([`Checkpointer::start_over`]).
    state_seq: u64,
    /// `state_seq` at the last successful save.
    saved_seq: u64,
    at: Instant,
}

impl Checkpointer {
    pub fn new(
        store: Arc<dyn CheckpointStore>,
        state: Checkpoint,
        position: Arc<Position>,
        reporter: Reporter,
    ) -> Arc<Self> {
        let unresolved = GoneKeys::from_docs(&state.unresolved_fetches);
        let seq = position.seq();
        {
            let mut parked = reporter.status.parked().lock();
            parked.restore(&state.parked, Instant::now());
            parked.skipped().restore(&state.skipped);
        }
        Arc::new(Checkpointer {
            store,
            unresolved: Arc::new(parking_lot::Mutex::new(unresolved)),
            state: Mutex::new(state),
            position,
            reporter,
            marks: parking_lot::Mutex::new(Marks {
                state_seq: seq,
                saved_seq: seq,
                at: Instant::now(),
            }),
            source: parking_lot::Mutex::new(None),
            selection: parking_lot::Mutex::new(None),
        })
    }

    /// The source this run follows: every later save records it in the checkpoint.
    pub fn set_source(&self, identity: SourceIdentity) {
        *self.source.lock() = Some(identity);
    }

    /// The source selection the backup now holds copies of (after a copy, or after the
    /// collections a widened selection added were copied): every later save records it.
    pub fn set_selection(&self, selection: crate::source::namespaces::Selection) {
        *self.selection.lock() = Some(selection);
    }

    /// Replaces the state with `fresh`, whose token is a new start point (a copy or resync
    /// starting): everything the watermark holds so far is older than it and never replaces it.
    pub async fn start_over(&self, fresh: Checkpoint) {
        let mut state = self.state.lock().await;
        *state = fresh;
        let mut marks = self.marks.lock();
        marks.state_seq = self.position.seq();
        // Not saved yet: the next save writes it whatever the watermark does.
        marks.saved_seq = u64::MAX;
    }

    /// Saves the current watermark if it moved since the last save (the ticks, and the saves
    /// exactly before and after a DDL: on return, every acknowledged event is stored).
    pub async fn save_now(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        let seq = self.advance(&mut state);
        let skipped = self.reporter.status.parked().lock().take_unsaved_skip();
        if seq == self.marks.lock().saved_seq && !skipped {
            return Ok(());
        }
        state.clean = false;
        self.write(&mut state, seq).await
    }

    /// The last save of a tail: `clean` when every writer drained without error.
    pub async fn save_final(&self, clean: bool) -> Result<()> {
        let mut state = self.state.lock().await;
        let seq = self.advance(&mut state);
        state.clean = clean && !state.copying;
        self.write(&mut state, seq).await
    }

    /// Saves the whole state as it is (copy position, pending indexes), with the watermark.
    pub async fn save_state(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        let seq = self.advance(&mut state);
        state.clean = false;
        self.write(&mut state, seq).await
    }

    /// Under the state lock: moves the state's token to the watermark when the watermark is past
    /// what the token covers (never back); returns the seq the state's token now covers.
    fn advance(&self, state: &mut Checkpoint) -> u64 {
        let (token, seq, _) = self.position.snapshot();
        let mut marks = self.marks.lock();
        if let Some(token) = token.filter(|_| seq > marks.state_seq) {
            state.resume_token = Some(token);
            marks.state_seq = seq;
        }
        marks.state_seq
    }

    /// Every save: the gone keys as they are now, the store write, and the saved mark (`seq`,
    /// what the written token covers).
    async fn write(&self, state: &mut Checkpoint, seq: u64) -> Result<()> {
        state.unresolved_fetches = self.unresolved.lock().to_docs();
        {
            let mut parked = self.reporter.status.parked().lock();
            state.parked = parked.entries();
            state.skipped = parked.skipped().entries();
        }
        if let Some(source) = self.source.lock().clone() {
            state.source = Some(source);
        }
        if let Some(selection) = self.selection.lock().clone() {
            state.selection = Some(selection);
        }
        self.store.save(state).await?;
        let mut marks = self.marks.lock();
        marks.saved_seq = seq;
        marks.at = Instant::now();
        drop(marks);
        self.reporter.checkpoint_saved();
        Ok(())
    }

    /// Ticks until `stop`: saves, and refreshes lag, checkpoint age and stall. A save failing
    /// with a configuration error (a checkpoint file whose directory vanished, became a file,
    /// went read-only or denied) ends the ticks with that error: no retry makes the place
    /// writable, and retrying forever would keep `/healthz` green with nothing saved. Other
    /// failures (a full disk, an unreachable target) are logged and retried.
    pub async fn run(self: Arc<Self>, interval: Duration, stop: CancellationToken) -> Result<()> {
        let mut ticker = tokio::time::interval(interval.min(Duration::from_secs(1)));
        let mut last_save = Instant::now();
        let mut watch = StallWatch::new(Instant::now());
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return Ok(()),
            }
            if last_save.elapsed() >= interval {
                last_save = Instant::now();
                if let Err(e) = self.save_now().await {
                    self.reporter.record_error(&e);
                    if never_writable(&e) {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, "checkpoint write failed; will retry");
                }
            }
            let saved_at = self.marks.lock().at;
            health::refresh(
                &self.reporter,
                &self.position,
                saved_at,
                &mut watch,
                Instant::now(),
            );
        }
    }
}

/// A save error no retry can fix: the store's place is misconfigured.
fn never_writable(e: &crate::error::Error) -> bool {
    e.class == crate::error::Class::Fatal && e.kind == crate::error::ErrorKind::Config
}

#[cfg(test)]
mod tests;
