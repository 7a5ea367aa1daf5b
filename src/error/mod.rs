//! One error type with a kind, and one function deciding retry policy.

mod codes;
pub mod retry;

pub use codes::{classify_parts, is_path_conflict_code, ServerFacts};

use mongodb::error::{ErrorKind as DriverKind, WriteFailure};

/// Where an error came from and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    Config,
    Source,
    Target,
    /// The resume point is no longer in the source oplog (code 286).
    HistoryLost,
    /// A write the target refuses even in stream order (e.g. a target-only unique index).
    Conflict,
    Checkpoint,
    Internal,
}

/// Whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Transient,
    Fatal,
}

#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub class: Class,
    pub context: String,
    /// Redacted message.
    pub message: String,
    /// Server error code when there is one.
    pub code: Option<i32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error; `message` is redacted here, so callers may pass driver text as is.
    pub fn new(
        kind: ErrorKind,
        class: Class,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            class,
            context: crate::config::redact_text(&context.into()),
            message: crate::config::redact_text(&message.into()),
            code: None,
        }
    }

    /// Wraps a driver error: classified by code and labels as real servers send them
    /// (RetryableWriteError, ResumableChangeStreamError, network, step-down codes; 286 -> HistoryLost;
    /// 11000 -> Conflict; auth -> Fatal).
    pub fn from_driver(
        kind: ErrorKind,
        context: impl Into<String>,
        err: &mongodb::error::Error,
    ) -> Self {
        let kind = if is_history_lost(err) {
            ErrorKind::HistoryLost
        } else if is_duplicate_key(err) {
            ErrorKind::Conflict
        } else {
            kind
        };
        let mut e = Error::new(kind, classify(err), context, err.kind.to_string());
        e.code = server_codes(err).first().copied();
        e
    }

    pub fn is_transient(&self) -> bool {
        self.class == Class::Transient
    }

    /// Low-cardinality label for `errors_total{kind}`.
    pub fn metric_kind(&self) -> &'static str {
        match self.kind {
            ErrorKind::Config => "config",
            ErrorKind::Source => "source",
            ErrorKind::Target => "target",
            ErrorKind::HistoryLost => "history_lost",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Checkpoint => "checkpoint",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The retry decision for a driver error.
pub fn classify(err: &mongodb::error::Error) -> Class {
    // `contains_label` also looks at wrapped source errors.
    let labels: Vec<&str> = codes::TRANSIENT_LABELS
        .iter()
        .copied()
        .filter(|l| err.contains_label(l))
        .collect();
    classify_parts(&ServerFacts {
        network: is_network_kind(&err.kind),
        fatal_kind: is_fatal_kind(&err.kind),
        codes: server_codes(err),
        labels: &labels,
    })
}

/// True for a duplicate-key error (11000/11001/12582, or a write error with that code).
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    server_codes(err)
        .iter()
        .any(|c| codes::DUPLICATE_KEY.contains(c))
}

/// True for code 286 ChangeStreamHistoryLost (or 280 with the history-lost message on old servers).
pub fn is_history_lost(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        DriverKind::Command(c) => {
            c.code == codes::CHANGE_STREAM_HISTORY_LOST
                || (c.code == codes::CHANGE_STREAM_FATAL && mentions_history_lost(&c.message))
        }
        _ => false,
    }
}

/// True when the target refused a `$set`/`$unset`/`$push` because the document's shape differs from
/// the one the event was computed on (replay over a newer state): the writer re-reads that key.
pub fn is_path_conflict(err: &mongodb::error::Error) -> bool {
    server_codes(err).iter().any(|c| is_path_conflict_code(*c))
}

fn mentions_history_lost(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("resume point may no longer be in the oplog") || m.contains("history")
}

/// Every server code carried by the error, the command / first write error first.
fn server_codes(err: &mongodb::error::Error) -> Vec<i32> {
    match err.kind.as_ref() {
        DriverKind::Command(c) => vec![c.code],
        DriverKind::Write(WriteFailure::WriteError(w)) => vec![w.code],
        DriverKind::Write(WriteFailure::WriteConcernError(w)) => vec![w.code],
        DriverKind::InsertMany(im) => {
            let mut codes: Vec<i32> = im.write_errors.iter().flatten().map(|w| w.code).collect();
            codes.extend(im.write_concern_error.iter().map(|w| w.code));
            codes
        }
        DriverKind::BulkWrite(bw) => {
            let mut indexed: Vec<_> = bw.write_errors.iter().collect();
            indexed.sort_by_key(|(i, _)| **i);
            let mut codes: Vec<i32> = indexed.into_iter().map(|(_, w)| w.code).collect();
            codes.extend(bw.write_concern_errors.iter().map(|w| w.code));
            codes
        }
        _ => Vec::new(),
    }
}

/// Errors of the connection itself: always worth another attempt.
fn is_network_kind(kind: &DriverKind) -> bool {
    matches!(
        kind,
        DriverKind::Io(_)
            | DriverKind::ConnectionPoolCleared { .. }
            | DriverKind::ServerSelection { .. }
            | DriverKind::DnsResolve { .. }
            | DriverKind::InvalidResponse { .. }
    )
}

/// Errors no retry can fix: credentials, TLS setup, bad arguments, an unsupported server.
fn is_fatal_kind(kind: &DriverKind) -> bool {
    matches!(
        kind,
        DriverKind::Authentication { .. }
            | DriverKind::InvalidArgument { .. }
            | DriverKind::InvalidTlsConfig { .. }
            | DriverKind::IncompatibleServer { .. }
            | DriverKind::SessionsNotSupported
            | DriverKind::MissingResumeToken
            | DriverKind::Shutdown
    )
}

#[cfg(test)]
mod tests;
