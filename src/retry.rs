//! Retrying transient failures forever (exponential backoff with jitter), counted and logged in
//! bursts, while fatal ones stop at once. Cancellation ends the wait.

use crate::error::{Class, Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::status::Status;
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What retry loops need to report into.
#[derive(Clone)]
pub struct Telemetry {
    pub metrics: Arc<Metrics>,
    pub status: Status,
    pub cancel: CancellationToken,
}

/// The backoff used everywhere: 50 ms doubling to 5 s, with jitter, no limit on attempts.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

impl Telemetry {
    /// Phase changes go to both `/status` and the `phase` metric, logged once.
    pub fn set_phase(&self, phase: crate::status::Phase) {
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

    pub fn set_up(&self, side: &str, up: bool) {
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
                ErrorKind::Source => self.set_up("source", false),
                ErrorKind::Target => self.set_up("target", false),
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
        let cancel = self.cancel.clone();
        let attempt = op
            .retry(backoff())
            .when(|e: &Error| e.is_transient() && !cancel.is_cancelled())
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
            _ = self.cancel.cancelled() => Err(cancelled(what)),
        }
    }
}

/// The error a retry loop ends with when the process is stopping.
pub fn cancelled(what: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        Class::Transient,
        what,
        "cancelled: shutting down",
    )
}

/// True when `err` is the cancellation marker of [`cancelled`].
pub fn is_cancelled(err: &Error) -> bool {
    err.kind == ErrorKind::Internal && err.message.starts_with("cancelled")
}

/// Fatal marker for classification in places where no driver error exists.
pub fn fatal(kind: ErrorKind, context: &str, message: impl Into<String>) -> Error {
    Error::new(kind, Class::Fatal, context, message)
}
