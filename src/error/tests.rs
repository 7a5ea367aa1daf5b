use super::*;
use bson::doc;
use mongodb::error::{
    CommandError, Error as DriverError, ErrorKind as DriverKind, WriteError, WriteFailure,
};

fn command_error(code: i32, message: &str) -> DriverError {
    let ce: CommandError =
        bson::from_document(doc! { "code": code, "codeName": "X", "errmsg": message }).unwrap();
    DriverError::from(DriverKind::Command(ce))
}

fn write_error(code: i32) -> DriverError {
    let we: WriteError = bson::from_document(doc! { "code": code, "errmsg": "w" }).unwrap();
    DriverError::from(DriverKind::Write(WriteFailure::WriteError(we)))
}

#[test]
fn io_errors_are_transient() {
    let err = DriverError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset",
    ));
    assert_eq!(classify(&err), Class::Transient);
}

#[test]
fn step_down_and_network_codes_are_transient() {
    for code in [
        91, 189, 10107, 11600, 11602, 13435, 13436, 6, 7, 89, 9001, 262, 50,
    ] {
        assert_eq!(
            classify(&command_error(code, "m")),
            Class::Transient,
            "code {code}"
        );
    }
}

#[test]
fn a_snapshot_read_the_server_cannot_serve_now_is_transient() {
    // SnapshotTooOld, SnapshotUnavailable: a re-read's snapshot read, retried at a new snapshot.
    for code in [239, 246] {
        assert_eq!(
            classify(&command_error(code, "m")),
            Class::Transient,
            "code {code}"
        );
    }
}

#[test]
fn auth_bad_value_and_unknown_codes_are_fatal() {
    for code in [18, 13, 2, 9, 26, 12345] {
        assert_eq!(
            classify(&command_error(code, "m")),
            Class::Fatal,
            "code {code}"
        );
    }
}

#[test]
fn history_lost_is_fatal_with_its_own_kind() {
    let err = command_error(286, "Resume of change stream was not possible");
    assert!(is_history_lost(&err));
    assert_eq!(classify(&err), Class::Fatal);
    let e = Error::from_driver(Origin::Source, "tail", &err);
    assert_eq!(e.kind, ErrorKind::HistoryLost);
    assert_eq!(e.code, Some(286));
    assert_eq!(e.metric_kind(), "history_lost");
    let old = command_error(280, "the resume point may no longer be in the oplog");
    assert!(is_history_lost(&old));
    assert!(!is_history_lost(&command_error(
        280,
        "cannot resume: collation"
    )));
}

#[test]
fn duplicate_key_write_error_is_a_fatal_conflict() {
    let err = write_error(11000);
    assert!(is_duplicate_key(&err));
    assert_eq!(classify(&err), Class::Fatal);
    let e = Error::from_driver(Origin::Target, "apply", &err);
    assert_eq!(e.kind, ErrorKind::DuplicateKey);
    assert_eq!(e.metric_kind(), "conflict");
    assert_eq!(e.code, Some(11000));
    assert!(!is_duplicate_key(&write_error(28)));
}

#[test]
fn path_conflicts_are_recognised() {
    assert!(is_path_conflict(&write_error(28)));
    assert!(!is_path_conflict(&write_error(11000)));
}

#[test]
fn labels_make_unknown_codes_transient_but_never_auth() {
    let labels = ["ResumableChangeStreamError"];
    let facts = ServerFacts {
        codes: vec![12345],
        labels: &labels,
        ..Default::default()
    };
    assert_eq!(classify_parts(&facts), Class::Transient);
    for label in codes::TRANSIENT_LABELS {
        let labels = [label];
        let facts = ServerFacts {
            codes: vec![2],
            labels: &labels,
            ..Default::default()
        };
        assert_eq!(classify_parts(&facts), Class::Transient, "{label}");
    }
    let facts = ServerFacts {
        codes: vec![18],
        labels: &labels,
        ..Default::default()
    };
    assert_eq!(classify_parts(&facts), Class::Fatal);
    let facts = ServerFacts {
        fatal_kind: true,
        network: true,
        ..Default::default()
    };
    assert_eq!(classify_parts(&facts), Class::Fatal);
    let facts = ServerFacts {
        network: true,
        ..Default::default()
    };
    assert_eq!(classify_parts(&facts), Class::Transient);
}

#[test]
fn messages_are_redacted() {
    let err = command_error(
        6,
        "cannot reach mongodb://app:s3cret@db1:27017/?replicaSet=rs0",
    );
    let e = Error::from_driver(Origin::Source, "connect to mongodb://app:s3cret@db1", &err);
    let shown = e.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("app:***@db1"), "{shown}");
    assert!(e.is_transient());
    let manual = Error::new(ErrorKind::Config, Class::Fatal, "cfg", "mongodb://u:pw@h");
    assert_eq!(manual.message, "mongodb://u:***@h");
    assert_eq!(manual.code, None);
}

fn io_error() -> DriverError {
    DriverError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset",
    ))
}

#[test]
fn driver_errors_get_the_kind_of_what_happened() {
    let e = Error::from_driver(Origin::Target, "apply", &io_error());
    assert_eq!((e.kind, e.class), (ErrorKind::Network, Class::Transient));
    assert_eq!((e.metric_kind(), e.side()), ("target", Some(Side::Target)));
    let e = Error::from_driver(Origin::Source, "tail", &command_error(91, "shutting down"));
    assert_eq!((e.kind, e.class), (ErrorKind::Server, Class::Transient));
    assert_eq!((e.metric_kind(), e.code), ("source", Some(91)));
    let e = Error::from_driver(Origin::Target, "apply", &write_error(28));
    assert_eq!((e.kind, e.class), (ErrorKind::PathConflict, Class::Fatal));
    assert_eq!(e.metric_kind(), "target");
    let e = Error::from_driver(Origin::Target, "apply", &write_error(121));
    assert_eq!(e.kind, ErrorKind::Write);
    // A refused command is no shape mismatch, even with a code a refused `$set` also gets.
    let e = Error::from_driver(Origin::Source, "find", &command_error(2, "bad filter"));
    assert_eq!(e.kind, ErrorKind::Server);
}

#[test]
fn checkpoint_errors_count_as_checkpoint_and_mark_no_side_down() {
    let e = Error::from_driver(Origin::Checkpoint, "writing checkpoint", &io_error());
    assert_eq!((e.kind, e.class), (ErrorKind::Network, Class::Transient));
    assert_eq!((e.metric_kind(), e.side()), ("checkpoint", None));
    let lost = command_error(286, "history lost");
    let e = Error::from_driver(Origin::Checkpoint, "reading checkpoint", &lost);
    assert_eq!(e.metric_kind(), "history_lost");
}

#[test]
fn conflicts_lost_history_and_config_blame_no_side() {
    for (err, kind) in [
        (write_error(11000), ErrorKind::DuplicateKey),
        (command_error(286, "gone"), ErrorKind::HistoryLost),
    ] {
        let e = Error::from_driver(Origin::Target, "x", &err);
        assert_eq!((e.kind, e.side()), (kind, None));
    }
    let e = Error::new(ErrorKind::Config, Class::Fatal, "source.uri", "m").at(Origin::Source);
    assert_eq!((e.metric_kind(), e.side()), ("config", None));
}

/// Fails to compile when a kind is added without being listed in [`ErrorKind::ALL`].
fn listed(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Config
        | ErrorKind::Network
        | ErrorKind::Server
        | ErrorKind::Write
        | ErrorKind::DuplicateKey
        | ErrorKind::PathConflict
        | ErrorKind::HistoryLost
        | ErrorKind::Malformed
        | ErrorKind::File
        | ErrorKind::Cancelled
        | ErrorKind::Internal => ErrorKind::ALL.contains(&kind),
    }
}

#[test]
fn every_kind_and_origin_has_a_known_metric_label() {
    let origins = std::iter::once(None).chain(Origin::ALL.map(Some));
    for origin in origins {
        for kind in ErrorKind::ALL {
            assert!(listed(kind), "{kind:?}");
            let mut e = Error::new(kind, Class::Fatal, "c", "m");
            e.origin = origin;
            let label = e.metric_kind();
            assert!(
                crate::ops::labels::ERROR_KINDS.contains(&label),
                "{kind:?} at {origin:?}: {label}"
            );
            // `up{side}` is cleared exactly for the errors counted against that side.
            let side_label = e.side().map(Side::as_str);
            assert_eq!(
                side_label,
                Some(label).filter(|l| ["source", "target"].contains(l)),
                "{kind:?} at {origin:?}"
            );
        }
    }
}

#[test]
fn every_metric_label_is_reachable() {
    let mut seen = std::collections::BTreeSet::new();
    for origin in std::iter::once(None).chain(Origin::ALL.map(Some)) {
        for kind in ErrorKind::ALL {
            let mut e = Error::new(kind, Class::Fatal, "c", "m");
            e.origin = origin;
            seen.insert(e.metric_kind());
        }
    }
    let all: std::collections::BTreeSet<_> =
        crate::ops::labels::ERROR_KINDS.iter().copied().collect();
    assert_eq!(seen, all);
}
