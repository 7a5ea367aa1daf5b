//! The handle through which the pipeline reports: metrics, `/status` and the abort token, with
//! the retry loop that counts and logs each transient failure (policy in [`crate::error::retry`]).

use crate::error::retry::{backoff, cancelled, decide, Decision};
use crate::error::{Error, Result};
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
            self.status.runs().phase(phase);
            crate::notify::bus::phase_changed(self.status.bus(), self.status.phase(), phase);
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
        self.status.runs().error(err.metric_kind());
        crate::notify::bus::error_seen(self.status.bus(), err);
        self.status.set_error(err.metric_kind(), &err.to_string());
        // A transient failure of a side means it is (for now) unreachable or unwilling.
        if err.is_transient() {
            if let Some(side) = err.side() {
                self.set_up(side, false);
            }
        }
    }

    /// Runs `op` until it succeeds or [`decide`] says anything but [`Decision::Backoff`] (a
    /// duplicate key goes back to the caller, who alone can replay in order); transient
    /// failures are retried with [`backoff`], each counted, logged at most once per 10 s per
    /// call site.
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
            .when(|e: &Error| decide(e) == Decision::Backoff && !abort.is_cancelled())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Class, ErrorKind, Origin};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn reporter() -> Reporter {
        let r = Reporter {
            metrics: Metrics::new(),
            status: Status::new("src", "dst"),
            abort: CancellationToken::new(),
        };
        r.set_up(Side::Source, true);
        r.set_up(Side::Target, true);
        r
    }

    fn up(r: &Reporter) -> (bool, bool) {
        let s = r.status.to_json();
        let side = |n: &str| s["up"][n].as_bool().unwrap();
        (side("source"), side("target"))
    }

    fn retries(r: &Reporter) -> String {
        let text = r.metrics.render();
        let name = crate::ops::metrics::names::RETRIES_TOTAL;
        let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.expect("retries_total series").to_string()
    }

    fn err(kind: ErrorKind, class: Class, origin: Origin) -> Error {
        Error::new(kind, class, "c", "m").at(origin)
    }

    #[test]
    fn transient_errors_of_a_side_mark_only_that_side_down() {
        let r = reporter();
        r.record_error(&err(ErrorKind::Server, Class::Fatal, Origin::Target));
        r.record_error(&err(ErrorKind::File, Class::Transient, Origin::Checkpoint));
        r.record_error(&err(ErrorKind::DuplicateKey, Class::Fatal, Origin::Target));
        assert_eq!(up(&r), (true, true));
        r.record_error(&err(ErrorKind::Write, Class::Transient, Origin::Target));
        assert_eq!(up(&r), (true, false));
        r.record_error(&err(ErrorKind::Network, Class::Transient, Origin::Source));
        assert_eq!(up(&r), (false, false));
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_counted() {
        let r = reporter();
        let calls = AtomicUsize::new(0);
        let got = r
            .retry("op", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(err(ErrorKind::Network, Class::Transient, Origin::Source)),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(got.unwrap(), 1);
        assert!(retries(&r).ends_with(" 1"), "{}", retries(&r));
    }

    #[tokio::test]
    async fn duplicate_keys_and_fatal_errors_are_handed_back_at_once() {
        for (kind, class) in [
            (ErrorKind::DuplicateKey, Class::Fatal),
            (ErrorKind::Write, Class::Fatal),
            (ErrorKind::Cancelled, Class::Transient),
        ] {
            let r = reporter();
            let calls = AtomicUsize::new(0);
            let got: Result<()> = r
                .retry("op", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(err(kind, class, Origin::Target))
                })
                .await;
            assert_eq!(got.unwrap_err().kind, kind);
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{kind:?}");
            assert!(retries(&r).ends_with(" 0"), "{}", retries(&r));
        }
    }
}
