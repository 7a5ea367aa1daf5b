//! The one retry policy: [`decide`] turns an error into what a retry loop does next, and the
//! wait schedules are defined here once. Transient failures are retried forever with
//! exponential backoff and jitter; a duplicate key that survives the in-order replay is retried
//! slowly and never skipped; everything else stops the loop, as does the shutdown deadline.

use super::{Class, Error, ErrorKind};
use backon::ExponentialBuilder;
use std::time::Duration;

/// What a retry loop does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Transient (network, step-down, write concern, ...): wait per [`backoff`], try again,
    /// forever.
    Backoff,
    /// A unique index refused a write: only a loop that replays in stream order can tell a
    /// partition still behind from a real conflict; it retries per [`conflict_backoff`],
    /// reports a real one, never skips it. Every other loop stops and hands it up.
    SlowRetry,
    /// Nothing a retry fixes (or the process is stopping): the loop ends with the error.
    Stop,
}

/// The retry decision for `err`.
pub fn decide(err: &Error) -> Decision {
    match err.kind {
        ErrorKind::Cancelled => Decision::Stop,
        ErrorKind::DuplicateKey => Decision::SlowRetry,
        _ if err.is_transient() => Decision::Backoff,
        _ => Decision::Stop,
    }
}

/// Waits between transient failures: 50 ms doubling to 5 s, with jitter, no limit on attempts.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

/// Waits between attempts of a write that hit a duplicate key: 20 ms (another partition is
/// usually just behind) doubling to 30 s (a real conflict waits for an operator), no jitter,
/// no end.
pub fn conflict_backoff() -> impl Iterator<Item = Duration> {
    let max = Duration::from_secs(30);
    std::iter::successors(Some(Duration::from_millis(20)), move |w| {
        Some((*w * 2).min(max))
    })
}

/// The error a retry loop ends with when the process is stopping.
pub fn cancelled(what: &str) -> Error {
    Error::new(
        ErrorKind::Cancelled,
        Class::Transient,
        what,
        "cancelled: shutting down",
    )
}

/// True when `err` is the cancellation of [`cancelled`].
pub fn is_cancelled(err: &Error) -> bool {
    err.kind == ErrorKind::Cancelled
}

#[cfg(test)]
mod tests;
