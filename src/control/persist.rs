//! Keeps the paused state in the checkpoint: restored when a run starts, written after every
//! change (so a pause survives kill -9 as soon as the API answered `stored: true`).

use crate::control::{publish_metrics, Pauses};
use crate::ops::metrics::Metrics;
use crate::state::Checkpointer;
use std::sync::Arc;

/// Ends the persisting task when dropped (the run is over).
pub struct Persisting(tokio::task::JoinHandle<()>);

impl Drop for Persisting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Adopts the checkpoint's paused state (unless an operator acted first), then writes the
/// state into the checkpoint on every change until the returned guard is dropped.
pub async fn attach(
    pauses: Arc<Pauses>,
    cp: Arc<Checkpointer>,
    metrics: Arc<Metrics>,
) -> Persisting {
    let stored = cp.state.lock().await.paused.clone();
    pauses.restore(&stored);
    publish_metrics(&pauses, &metrics);
    let mut changes = pauses.subscribe();
    Persisting(tokio::spawn(async move {
        loop {
            let version = *changes.borrow_and_update();
            let state = pauses.snapshot();
            let differs = cp.state.lock().await.paused != state;
            if differs {
                cp.state.lock().await.paused = state;
                match cp.save_state().await {
                    Ok(()) => pauses.mark_stored(version),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not store the paused state in the checkpoint; retrying at the next change or save")
                    }
                }
            } else {
                pauses.mark_stored(version);
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }))
}
