//! One error type: what happened ([`ErrorKind`]), where ([`Origin`]), whether a retry can help
//! ([`Class`]); the retry decision built on it is [`retry::decide`].

pub(crate) mod codes;
mod driver;
pub mod redact;
pub mod retry;

pub use codes::{classify_parts, is_path_conflict_code, ServerFacts};
pub(crate) use driver::command_code;
pub use driver::{classify, is_duplicate_key, is_history_lost, is_path_conflict};

use crate::ops::labels::Side;

/// What happened. Where it happened is [`Error::origin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Settings or a deployment the replicator cannot work with (bad URI, credentials, standalone).
    Config,
    /// The connection failed: I/O, pool cleared, server selection, DNS.
    Network,
    /// A command the server (or the driver on its behalf) refused.
    Server,
    /// A write refused by the target: a write error or a write concern error.
    Write,
    /// A unique index refused a write (code 11000 and its legacy twins).
    DuplicateKey,
    /// A `$set`/`$unset`/`$push` that does not fit the target document's shape (a replay over a
    /// newer version): re-reading the document fixes it.
    PathConflict,
    /// The resume point is no longer in the source oplog (code 286).
    HistoryLost,
    /// Data the replicator cannot read: a change event it cannot translate, a document without
    /// `_id`, an unreadable checkpoint.
    Malformed,
    /// A local file (the checkpoint file) could not be read or written.
    File,
    /// The process is stopping: a retry loop gave up at the shutdown deadline.
    Cancelled,
    /// A bug or a broken invariant of the replicator itself.
    Internal,
}

impl ErrorKind {
    /// Every kind (tests check each one's metric label).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Config,
        ErrorKind::Network,
        ErrorKind::Server,
        ErrorKind::Write,
        ErrorKind::DuplicateKey,
        ErrorKind::PathConflict,
        ErrorKind::HistoryLost,
        ErrorKind::Malformed,
        ErrorKind::File,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];
}

/// Where an error happened: one of the deployments, or the checkpoint store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Source,
    Target,
    /// The checkpoint store (on the target or in a file); its failures do not mark a side down.
    Checkpoint,
}

impl Origin {
    pub const ALL: [Origin; 3] = [Origin::Source, Origin::Target, Origin::Checkpoint];

    /// The deployment whose `up{side}` this origin's transient failures clear.
    pub fn side(self) -> Option<Side> {
        match self {
            Origin::Source => Some(Side::Source),
            Origin::Target => Some(Side::Target),
            Origin::Checkpoint => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Origin::Source => "source",
            Origin::Target => "target",
            Origin::Checkpoint => "checkpoint",
        }
    }
}

impl From<Side> for Origin {
    fn from(side: Side) -> Self {
        match side {
            Side::Source => Origin::Source,
            Side::Target => Origin::Target,
        }
    }
}

/// Whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Transient,
    Fatal,
}

#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub origin: Option<Origin>,
    pub class: Class,
    pub context: String,
    /// Redacted message.
    pub message: String,
    /// Server error code when there is one.
    pub code: Option<i32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error of no origin (see [`Error::at`]); `message` is redacted here (credentials,
    /// and the document values server messages quote: [`redact::redact_values`]), so callers
    /// may pass driver and server text as is.
    pub fn new(
        kind: ErrorKind,
        class: Class,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            origin: None,
            class,
            context: crate::config::redact_text(&context.into()),
            message: redact::redact_values(&crate::config::redact_text(&message.into())),
            code: None,
        }
    }

    /// Data from `origin` the replicator cannot read; no retry makes it readable.
    pub fn malformed(
        origin: Origin,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::new(ErrorKind::Malformed, Class::Fatal, context, message).at(origin)
    }

    /// The same error, happened at `origin`.
    pub fn at(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The same error, carrying the server code `code`.
    pub fn with_code(mut self, code: Option<i32>) -> Self {
        self.code = code;
        self
    }

    /// Wraps a driver error from `origin`: kind, class and code come from the error's codes and
    /// labels as real servers send them (see [`driver`]).
    pub fn from_driver(
        origin: Origin,
        context: impl Into<String>,
        err: &mongodb::error::Error,
    ) -> Self {
        Error::new(
            driver::kind_of(err),
            classify(err),
            context,
            err.kind.to_string(),
        )
        .at(origin)
        .with_code(driver::server_codes(err).first().copied())
    }

    pub fn is_transient(&self) -> bool {
        self.class == Class::Transient
    }

    /// The deployment this error counts against: `errors_total{kind="source"|"target"}`, and
    /// `up{side}` goes to 0 while it is transient.
    pub fn side(&self) -> Option<Side> {
        if self.origin_counts() {
            self.origin.and_then(Origin::side)
        } else {
            None
        }
    }

    /// Low-cardinality label for `errors_total{kind}` (one of [`crate::ops::labels::ERROR_KINDS`]):
    /// conflicts, lost history, config and internal errors have their own label; the rest count
    /// against where they happened.
    pub fn metric_kind(&self) -> &'static str {
        match self.kind {
            ErrorKind::Config => "config",
            ErrorKind::HistoryLost => "history_lost",
            ErrorKind::DuplicateKey => "conflict",
            _ if self.origin_counts() => self.origin.map_or("internal", Origin::label),
            _ => "internal",
        }
    }

    /// True for the kinds labelled by their origin in [`Error::metric_kind`].
    fn origin_counts(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Network
                | ErrorKind::Server
                | ErrorKind::Write
                | ErrorKind::PathConflict
                | ErrorKind::Malformed
                | ErrorKind::File
        )
    }
}

#[cfg(test)]
mod reply_tests;
#[cfg(test)]
mod tests;
