//! The handle through which the pipeline reports: metrics, `/status` and the abort token, with
//! the retry loop that counts and logs each transient failure (policy in [`crate::error::retry`]).

use crate::error::retry::{backoff, cancelled};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::labels::Side;
use crate::ops::metrics::Metrics;
use crate::ops::status::Status;
use backon::Retryable;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the pipeline reports into. Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    pub metrics: Arc<Metrics>,
    pub status: Status,
    /// Cancelled after the shutdown deadline: retries waiting for an unreachable side give up.
    pub abort: CancellationToken,
}

impl Reporter {
    /// Phase changes go to both `/status` and the `phase` metric, logged once.
    pub fn set_phase(&self, phase: crate::ops::status::Phase) {
        if self.status.phase() != phase {
            tracing::info!(phase = ?phase, "phase");
        }
        self.status.set_phase(phase);
        self.metrics.set_phase(phase);
    }

    pub fn set_stream_open(&self, open: bool) {
        self.status.set_stream_open(open);
        self.metrics.set_stream_open(open);
    }

    pub fn set_up(&self, side: Side, up: bool) {
        self.status.set_up(side, up);
        self.metrics.set_up(side, up);
    }

    /// Records an error in metrics and `/status`.
    pub fn record_error(&self, err: &Error) {
        self.metrics.error(err.metric_kind());
        self.status.set_error(err.metric_kind(), &err.to_string());
        // A transient failure of a side means it is (for now) unreachable or unwilling.
        if err.is_transient() {
            match err.kind {
                ErrorKind::Source => self.set_up(Side::Source, false),
                ErrorKind::Target => self.set_up(Side::Target, false),
                _ => {}
            }
        }
    }

    /// Runs `op` until it succeeds or fails fatally; transient failures are retried with
    /// [`backoff`], each counted, logged at most once per 10 s per call site.
    pub async fn retry<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut last_log: Option<Instant> = None;
        let mut suppressed = 0u64;
        let abort = self.abort.clone();
        let attempt = op
            .retry(backoff())
            .when(|e: &Error| e.is_transient() && !abort.is_cancelled())
            .notify(|e: &Error, wait: Duration| {
                self.metrics.retry();
                self.record_error(e);
                if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, suppressed, "{what} failed, retrying");
                    last_log = Some(Instant::now());
                    suppressed = 0;
                } else {
                    suppressed += 1;
                }
            });
        tokio::select! {
            r = attempt => r,
            _ = self.abort.cancelled() => Err(cancelled(what)),
        }
    }
}
