//! Write concern on the one-member set: `w` above one data-bearing node is applied and then
//! reported as UnsatisfiableWriteConcern (100), as mongod does; `majority` and 1 are met.

use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{Acknowledgment, WriteConcern};

#[tokio::test]
async fn a_write_concern_above_the_members_is_unsatisfiable_after_the_write() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("wc");
    let coll = db.collection::<Document>("c");
    let two = WriteConcern::builder().w(Acknowledgment::Nodes(2)).build();
    let err = coll
        .insert_one(doc! {"_id": 1})
        .write_concern(two)
        .await
        .unwrap_err();
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteConcernError(wce)) => {
            assert_eq!(wce.code, 100, "{wce:?}");
            assert_eq!(wce.code_name, "UnsatisfiableWriteConcern");
            assert_eq!(wce.message, "Not enough data-bearing nodes");
        }
        other => panic!("expected a write concern error, got {other:?}"),
    }
    // The write itself was applied, as on mongod.
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    // A command sent as is gets the same `writeConcernError` beside `ok: 1`.
    let reply = crate::support::raw_command(
        tb.addr(),
        "wc",
        doc! {"create": "d", "writeConcern": {"w": 3}},
    )
    .await;
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    let wce = reply.get_document("writeConcernError").unwrap();
    assert_eq!(wce.get_i32("code"), Ok(100), "{reply}");
    let shown = wce
        .get_document("errInfo")
        .unwrap()
        .get_document("writeConcern")
        .unwrap();
    assert_eq!(shown.get_str("provenance"), Ok("clientSupplied"));
    // An unknown tag set name.
    let reply = crate::support::raw_command(
        tb.addr(),
        "wc",
        doc! {"drop": "d", "writeConcern": {"w": "dc2"}},
    )
    .await;
    let wce = reply.get_document("writeConcernError").unwrap();
    assert_eq!(wce.get_i32("code"), Ok(79), "{reply}");
    // `majority` and 1 are met by the one member.
    for w in [Acknowledgment::Majority, Acknowledgment::Nodes(1)] {
        let wc = WriteConcern::builder().w(w).build();
        coll.insert_one(doc! {}).write_concern(wc).await.unwrap();
    }
}
