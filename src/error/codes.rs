//! Every server error code the replicator looks at, named here and nowhere else, and the
//! tables behind the transient/fatal class: codes and labels as real servers send them (SDAM /
//! retryable reads and writes / change streams specs).

use super::{Class, ErrorKind};

/// Labels servers and drivers attach to errors worth retrying.
pub const TRANSIENT_LABELS: [&str; 5] = [
    "RetryableWriteError",
    "ResumableChangeStreamError",
    "TransientTransactionError",
    "RetryableError",
    "SystemOverloadedError",
];

/// Unauthorized: the user lacks a privilege.
pub(crate) const UNAUTHORIZED: i32 = 13;
/// AuthenticationFailed: wrong user, password or authSource.
pub(crate) const AUTHENTICATION_FAILED: i32 = 18;
/// NamespaceNotFound: the collection (or database) does not exist.
pub(crate) const NAMESPACE_NOT_FOUND: i32 = 26;
/// IndexNotFound: `dropIndexes` of an index that is not there.
pub(crate) const INDEX_NOT_FOUND: i32 = 27;
/// NamespaceExists: `create` of a collection that is already there.
pub(crate) const NAMESPACE_EXISTS: i32 = 48;
/// InvalidResumeToken: among others, `resumeAfter` the token of an `invalidate`.
pub(crate) const INVALID_RESUME_TOKEN: i32 = 260;
/// ChangeStreamFatalError: on servers before 4.4 also sent when the history is lost.
pub(crate) const CHANGE_STREAM_FATAL: i32 = 280;
/// ChangeStreamHistoryLost: the resume point fell off the oplog.
pub(crate) const CHANGE_STREAM_HISTORY_LOST: i32 = 286;
/// Unrecognized pipeline stage name (a server too old for `$changeStreamSplitLargeEvent`).
pub(crate) const UNRECOGNIZED_PIPELINE_STAGE: i32 = 40324;
/// DuplicateKey (11000) and its legacy twins (11001 DuplicateKeyValue, 12582 from old
/// `insert` paths).
pub(crate) const DUPLICATE_KEY: [i32; 3] = [11000, 11001, 12582];

/// Network, step-down, shutdown, timeout, and transient-conflict codes.
const TRANSIENT_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    24,    // LockTimeout
    43,    // CursorNotFound (a change stream resumes)
    46,    // LockBusy
    50,    // MaxTimeMSExpired
    63,    // StaleShardVersion
    64,    // WriteConcernFailed (wtimeout)
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    112,   // WriteConflict
    133,   // FailedToSatisfyReadPreference
    134,   // ReadConcernMajorityNotAvailableYet
    150,   // StaleEpoch
    189,   // PrimarySteppedDown
    202,   // NetworkInterfaceExceededTimeLimit
    234,   // RetryChangeStream
    239,   // SnapshotTooOld (a re-read's snapshot read; retried at a new snapshot)
    246,   // SnapshotUnavailable ("pending collection catalog changes; please retry")
    262,   // ExceededTimeLimit
    462,   // IngressRequestRateLimitExceeded
    9001,  // SocketException
    10058, // LegacyNotPrimary
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13388, // StaleConfig
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

/// Codes that stay fatal whatever label comes with them: authentication, lost history,
/// duplicate keys (the caller decides what a conflict means).
const NEVER_RETRIED: &[i32] = &[
    UNAUTHORIZED,
    AUTHENTICATION_FAILED,
    CHANGE_STREAM_FATAL,
    CHANGE_STREAM_HISTORY_LOST,
    DUPLICATE_KEY[0],
    DUPLICATE_KEY[1],
    DUPLICATE_KEY[2],
];

/// Codes a `$set`/`$unset`/`$push {$slice}` gets when the target document's shape differs from
/// the one the change event was computed on.
const PATH_CONFLICT_CODES: &[i32] = &[
    2,  // BadValue ("The field 'a' must be an array")
    14, // TypeMismatch
    28, // PathNotViable ("Cannot create field 'b' in element {a: 5}")
    54, // NotSingleValueField
];

/// What the retry decision looks at, taken from a driver error (or built by hand in tests).
#[derive(Debug, Clone, Default)]
pub struct ServerFacts<'a> {
    /// Connection-level failure (I/O, pool cleared, server selection, DNS).
    pub network: bool,
    /// A failure no retry fixes (authentication, bad argument, TLS, unsupported server).
    pub fatal_kind: bool,
    /// Server codes carried (command code, write error codes, write concern codes).
    pub codes: Vec<i32>,
    /// Error labels carried.
    pub labels: &'a [&'a str],
}

/// The retry policy: fatal kinds and never-retried codes first, then transient labels, network
/// failures and transient codes; anything else is fatal (bad values do not improve with retries).
pub fn classify_parts(facts: &ServerFacts<'_>) -> Class {
    if facts.fatal_kind || facts.codes.iter().any(|c| is_never_retried(*c)) {
        return Class::Fatal;
    }
    let labelled = facts.labels.iter().any(|l| TRANSIENT_LABELS.contains(l));
    let transient_code = facts.codes.iter().any(|c| TRANSIENT_CODES.contains(c));
    if labelled || facts.network || transient_code {
        Class::Transient
    } else {
        Class::Fatal
    }
}

pub(crate) fn is_never_retried(code: i32) -> bool {
    NEVER_RETRIED.contains(&code)
}

/// True for a code a shape mismatch gets (see [`super::is_path_conflict`]).
pub fn is_path_conflict_code(code: i32) -> bool {
    PATH_CONFLICT_CODES.contains(&code)
}

pub(crate) fn is_duplicate_key_code(code: i32) -> bool {
    DUPLICATE_KEY.contains(&code)
}

/// What a write error with `code` is: a duplicate key, a path conflict, or another refusal.
pub(crate) fn write_error_kind(code: i32) -> ErrorKind {
    if is_duplicate_key_code(code) {
        ErrorKind::DuplicateKey
    } else if is_path_conflict_code(code) {
        ErrorKind::PathConflict
    } else {
        ErrorKind::Write
    }
}

/// The class of a bare server code (no labels, no connection failure).
pub(crate) fn class_of_code(code: i32) -> Class {
    classify_parts(&ServerFacts {
        codes: vec![code],
        ..Default::default()
    })
}
