//! One error type with a kind, and one function deciding retry policy.
// OWNER: core-logic helper.

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
    Io,
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
    pub fn new(kind: ErrorKind, class: Class, context: impl Into<String>, message: impl Into<String>) -> Self {
        let _ = (kind, class, context, message);
        todo!("core-logic")
    }

    /// Wraps a driver error: classified by code and labels as real servers send them
    /// (RetryableWriteError, ResumableChangeStreamError, network, step-down codes; 286 -> HistoryLost;
    /// 11000 -> Conflict; auth -> Fatal).
    pub fn from_driver(kind: ErrorKind, context: impl Into<String>, err: &mongodb::error::Error) -> Self {
        let _ = (kind, context, err);
        todo!("core-logic")
    }

    pub fn is_transient(&self) -> bool {
        self.class == Class::Transient
    }

    /// Low-cardinality label for `errors_total{kind}`.
    pub fn metric_kind(&self) -> &'static str {
        todo!("core-logic")
    }
}

/// The retry decision for a driver error.
pub fn classify(err: &mongodb::error::Error) -> Class {
    let _ = err;
    todo!("core-logic")
}

/// True for a duplicate-key error (11000/11001/12582, or a write error with that code).
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    let _ = err;
    todo!("core-logic")
}

/// True for code 286 ChangeStreamHistoryLost (or 280 with the history-lost message on old servers).
pub fn is_history_lost(err: &mongodb::error::Error) -> bool {
    let _ = err;
    todo!("core-logic")
}
