//! Reading a driver error: its server codes, labels and failure kind, turned into an
//! [`ErrorKind`] and a [`Class`].

use super::codes::{self, ServerFacts};
use super::{Class, ErrorKind};
use mongodb::error::{ErrorKind as DriverKind, WriteFailure};

/// What happened, most specific first: lost history and duplicate keys whatever else the error
/// carries, then the connection, then what the server refused.
pub(super) fn kind_of(err: &mongodb::error::Error) -> ErrorKind {
    if is_history_lost(err) {
        return ErrorKind::HistoryLost;
    }
    if is_duplicate_key(err) {
        return ErrorKind::DuplicateKey;
    }
    match err.kind.as_ref() {
        k if is_network_kind(k) => ErrorKind::Network,
        DriverKind::Write(_) | DriverKind::InsertMany(_) | DriverKind::BulkWrite(_) => {
            if is_path_conflict(err) {
                ErrorKind::PathConflict
            } else {
                ErrorKind::Write
            }
        }
        DriverKind::BsonDeserialization(_) | DriverKind::BsonSerialization(_) => {
            ErrorKind::Malformed
        }
        _ => ErrorKind::Server,
    }
}

/// The retry decision's input for a driver error: transient or fatal.
pub fn classify(err: &mongodb::error::Error) -> Class {
    // `contains_label` also looks at wrapped source errors.
    let labels: Vec<&str> = codes::TRANSIENT_LABELS
        .iter()
        .copied()
        .filter(|l| err.contains_label(l))
        .collect();
    codes::classify_parts(&ServerFacts {
        network: is_network_kind(&err.kind),
        fatal_kind: is_fatal_kind(&err.kind),
        codes: server_codes(err),
        labels: &labels,
    })
}

/// True for a duplicate-key error (a command or write error with a duplicate-key code).
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    server_codes(err)
        .iter()
        .any(|c| codes::is_duplicate_key_code(*c))
}

/// True for ChangeStreamHistoryLost (or ChangeStreamFatalError with the history-lost message
/// on old servers).
pub fn is_history_lost(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        DriverKind::Command(c) => {
            c.code == codes::CHANGE_STREAM_HISTORY_LOST
                || (c.code == codes::CHANGE_STREAM_FATAL && mentions_history_lost(&c.message))
        }
        _ => false,
    }
}

/// True when the target refused a `$set`/`$unset`/`$push` because the document's shape differs
/// from the one the event was computed on (replay over a newer state).
pub fn is_path_conflict(err: &mongodb::error::Error) -> bool {
    server_codes(err)
        .iter()
        .any(|c| codes::is_path_conflict_code(*c))
}

/// The code of a command the server refused (not of a write error).
pub(crate) fn command_code(err: &mongodb::error::Error) -> Option<i32> {
    match err.kind.as_ref() {
        DriverKind::Command(c) => Some(c.code),
        _ => None,
    }
}

fn mentions_history_lost(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("resume point may no longer be in the oplog") || m.contains("history")
}

/// Every server code carried by the error, the command / first write error first.
pub(super) fn server_codes(err: &mongodb::error::Error) -> Vec<i32> {
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
