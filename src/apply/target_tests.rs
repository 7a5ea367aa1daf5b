//! The command documents sent to the target and what their replies turn into.

use super::*;
use crate::error::ErrorKind;
use bson::doc;
use mongodb::options::{Acknowledgment, ClientOptions, ServerAddress, WriteConcern};
use mongodb::Client;

/// A database handle whose client has `wc` (no server is contacted).
fn target_with(wc: Option<WriteConcern>) -> Database {
    let opts = ClientOptions::builder()
        .hosts(vec![ServerAddress::parse("127.0.0.1:1").unwrap()])
        .write_concern(wc)
        .build();
    Client::with_options(opts).unwrap().database("backup")
}

#[tokio::test]
async fn update_commands_state_the_write_concern_and_bypass_validation() {
    let majority = WriteConcern::builder().w(Acknowledgment::Majority).build();
    let target = target_with(Some(majority));
    let st = doc! {"q": {"_id": 1}, "u": {"a": 1}, "upsert": true};
    let cmd = write_command(&target, "update", "orders", "updates", &[raw(&st)])
        .unwrap()
        .to_document()
        .unwrap();
    assert_eq!(
        cmd,
        doc! {"update": "orders", "updates": [st], "ordered": true,
        "bypassDocumentValidation": true, "writeConcern": {"w": "majority"}}
    );
}

#[tokio::test]
async fn delete_commands_state_a_numeric_write_concern_and_no_bypass() {
    let two = WriteConcern::builder().w(Acknowledgment::Nodes(2)).build();
    let target = target_with(Some(two));
    let st = doc! {"q": {"_id": 1}, "limit": 1};
    let cmd = write_command(&target, "delete", "orders", "deletes", &[raw(&st)])
        .unwrap()
        .to_document()
        .unwrap();
    assert_eq!(
        cmd,
        doc! {"delete": "orders", "deletes": [st], "ordered": true, "writeConcern": {"w": 2}}
    );
    // A handle without a write concern sends none (the server default).
    let plain = with_write_concern(&target_with(None), doc! {"drop": "orders"});
    assert_eq!(plain, doc! {"drop": "orders"});
}

#[test]
fn a_refused_statement_is_named_by_collection_and_id_only() {
    let statements = [
        doc! {"q": {"_id": 1}, "u": {"email": "first@example.com"}},
        doc! {"q": {"_id": "k2"}, "u": {"email": "second@example.com"}},
    ];
    let reply = doc! {"ok": 1, "n": 1, "writeErrors": [
        {"index": 1, "code": 121, "errmsg": "Document failed validation"}
    ]};
    let statements: Vec<_> = statements.iter().map(raw).collect();
    let e = check_statements_reply("update", "people", &statements, &reply).unwrap_err();
    assert_eq!(e.context, r#"update on people, _id "k2""#);
    assert_eq!(e.code, Some(121));
    assert!(!e.to_string().contains("example.com"), "{e}");
}

#[test]
fn a_shown_id_is_canonical_extended_json_cut_to_a_bound() {
    assert_eq!(shown_id(&Bson::Int64(7)), r#"{"$numberLong":"7"}"#);
    let long = Bson::String("x".repeat(1000));
    assert_eq!(shown_id(&long).chars().count(), MAX_SHOWN_ID_CHARS + 3);
}

#[test]
fn an_unsatisfiable_write_concern_is_a_configuration_error() {
    let reply = doc! {"ok": 1, "n": 1, "writeConcernError": {
        "code": 100, "codeName": "UnsatisfiableWriteConcern", "errmsg": "Not enough data-bearing nodes"
    }};
    let e = check_write_reply("update", "orders", &reply).unwrap_err();
    assert_eq!((e.kind, e.class), (ErrorKind::Config, Class::Fatal));
    assert_eq!(e.context, "target.write_concern");
    // A write concern timeout stays transient.
    let reply = doc! {"ok": 1, "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}};
    let e = check_write_reply("update", "orders", &reply).unwrap_err();
    assert_eq!((e.kind, e.class), (ErrorKind::Write, Class::Transient));
}
