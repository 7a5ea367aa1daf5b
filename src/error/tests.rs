use super::*;
use bson::doc;
use mongodb::error::{CommandError, Error as DriverError, WriteError};

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
    let e = Error::from_driver(ErrorKind::Source, "tail", &err);
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
    let e = Error::from_driver(ErrorKind::Target, "apply", &err);
    assert_eq!(e.kind, ErrorKind::Conflict);
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
    let e = Error::from_driver(
        ErrorKind::Source,
        "connect to mongodb://app:s3cret@db1",
        &err,
    );
    let shown = e.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("app:***@db1"), "{shown}");
    assert!(e.is_transient());
    let manual = Error::new(ErrorKind::Config, Class::Fatal, "cfg", "mongodb://u:pw@h");
    assert_eq!(manual.message, "mongodb://u:***@h");
    assert_eq!(manual.code, None);
}
