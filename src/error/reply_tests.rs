//! The write-reply classification of [`crate::apply::check_write_reply`]: what the writer
//! acts on (duplicate key -> in-order replay, path conflict -> re-read, transient -> retry).

use super::*;
use bson::doc;

fn reply_error(reply: bson::Document) -> Error {
    crate::apply::check_write_reply("update", "orders", &reply).expect_err("an error")
}

fn write_errors(code: i32) -> bson::Document {
    doc! { "ok": 1, "n": 0, "writeErrors": [
        { "index": 0, "code": code, "errmsg": "refused" },
        { "index": 1, "code": 91, "errmsg": "second" },
    ] }
}

#[test]
fn write_reply_with_a_duplicate_key_is_a_conflict() {
    for code in codes::DUPLICATE_KEY {
        let e = reply_error(write_errors(code));
        assert_eq!((e.kind, e.class), (ErrorKind::DuplicateKey, Class::Fatal));
        assert_eq!((e.metric_kind(), e.code), ("conflict", Some(code)));
        assert_eq!(e.to_string(), "update on orders: refused");
    }
}

#[test]
fn write_reply_with_a_path_conflict_code_is_a_path_conflict() {
    for code in [2, 14, 28, 54] {
        let e = reply_error(write_errors(code));
        assert_eq!(e.kind, ErrorKind::PathConflict, "code {code}");
        assert!(crate::apply::is_shape_conflict(&e));
        assert_eq!((e.metric_kind(), e.code), ("target", Some(code)));
    }
    assert!(!crate::apply::is_shape_conflict(&reply_error(
        write_errors(11000)
    )));
}

#[test]
fn write_reply_with_a_transient_code_is_transient() {
    for code in [91, 112, 189, 10107] {
        let e = reply_error(write_errors(code));
        assert_eq!(
            (e.kind, e.class),
            (ErrorKind::Write, Class::Transient),
            "{code}"
        );
        assert_eq!((e.origin, e.code), (Some(Origin::Target), Some(code)));
    }
}

#[test]
fn write_reply_with_an_unknown_code_is_fatal() {
    let e = reply_error(write_errors(12345));
    assert_eq!((e.kind, e.class), (ErrorKind::Write, Class::Fatal));
    assert_eq!(e.metric_kind(), "target");
    let no_code = reply_error(doc! { "ok": 1, "writeErrors": [{ "index": 0 }] });
    assert_eq!((no_code.class, no_code.code), (Class::Fatal, Some(0)));
    assert_eq!(no_code.message, "write error");
}

#[test]
fn write_concern_error_is_transient_with_its_code() {
    let e = reply_error(doc! { "ok": 1, "n": 1,
    "writeConcernError": { "code": 64, "errmsg": "waiting for replication timed out" } });
    assert_eq!((e.kind, e.class), (ErrorKind::Write, Class::Transient));
    assert_eq!((e.code, e.metric_kind()), (Some(64), "target"));
    assert_eq!(e.message, "waiting for replication timed out");
    let e = reply_error(doc! { "ok": 1, "writeConcernError": { "errmsg": "w" } });
    assert_eq!((e.class, e.code), (Class::Transient, None));
}

#[test]
fn write_errors_come_before_the_write_concern_error() {
    let mut reply = write_errors(11000);
    reply.insert("writeConcernError", doc! { "code": 64, "errmsg": "w" });
    assert_eq!(reply_error(reply).kind, ErrorKind::DuplicateKey);
}

#[test]
fn clean_write_reply_is_ok() {
    let check = |reply| crate::apply::check_write_reply("delete", "orders", &reply);
    assert!(check(doc! { "ok": 1, "n": 3 }).is_ok());
    assert!(check(doc! { "ok": 1, "n": 0, "writeErrors": [] }).is_ok());
}
