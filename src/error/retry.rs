//! The one retry policy: transient failures are retried forever with exponential backoff and
//! jitter; fatal ones stop at once; cancellation (the shutdown deadline) ends the wait.

use super::{Class, Error, ErrorKind};
use backon::ExponentialBuilder;
use std::time::Duration;

/// The backoff used by every retry loop: 50 ms doubling to 5 s, with jitter, no limit on attempts.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
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
