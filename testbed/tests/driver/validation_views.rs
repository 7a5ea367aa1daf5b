//! `collMod` + document validation (121 with `errInfo`), read-only views, `$`-prefixed `_id`
//! fields (52), and `--standalone` (no replica set: change streams fail with 40573).

use futures::TryStreamExt;
use mongo_testbed::TestbedOptions;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};

fn code_of(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::InsertMany(e) => e.write_errors.as_ref().map(|w| w[0].code),
        _ => None,
    }
}

#[tokio::test]
async fn coll_mod_validator_rejects_invalid_writes_unless_bypassed() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("val");
    let coll = db.collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "x": "a"}).await.unwrap();
    db.run_command(doc! {"collMod": "c", "validator": {"x": {"$type": "string"}}})
        .await
        .unwrap();
    let reply = crate::support::raw_command(
        tb.addr(),
        "val",
        doc! {"findAndModify": "c", "query": {"_id": 1}, "update": {"$set": {"x": 1}}},
    )
    .await;
    assert_eq!(reply.get_i32("code"), Ok(121), "{reply}");
    let info = reply.get_document("errInfo").unwrap();
    assert_eq!(info.get_i32("failingDocumentId"), Ok(1));
    assert!(info.get_document("details").is_ok(), "{info}");
    let err = coll.insert_one(doc! {"_id": 2, "x": 2}).await.unwrap_err();
    assert_eq!(code_of(&err), Some(121), "{err:?}");
    coll.insert_one(doc! {"_id": 3, "x": 3})
        .bypass_document_validation(true)
        .await
        .expect("bypassDocumentValidation skips the validator");
    let info = db
        .list_collections()
        .filter(doc! {"name": "c"})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(
        info[0].options.validator,
        Some(doc! {"x": {"$type": "string"}})
    );
    let err = db
        .run_command(doc! {"collMod": "c", "validator": {"x": {"$nope": 1}}})
        .await
        .unwrap_err();
    assert!(code_of(&err).is_some(), "a bad validator is refused");
    let err = db
        .run_command(doc! {"collMod": "missing", "validator": {}})
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), Some(26));
}

#[tokio::test]
async fn views_run_their_pipeline_and_refuse_writes() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("views");
    let coll = db.collection::<Document>("c");
    coll.insert_many((1..=3).map(|i| doc! {"_id": i, "x": i * 10}))
        .await
        .unwrap();
    db.run_command(
        doc! {"create": "v", "viewOn": "c", "pipeline": [{"$match": {"_id": {"$gt": 1}}}]},
    )
    .await
    .unwrap();
    db.run_command(
        doc! {"create": "vv", "viewOn": "v", "pipeline": [{"$project": {"x": 1, "_id": 0}}]},
    )
    .await
    .unwrap();
    let view = db.collection::<Document>("v");
    assert_eq!(view.estimated_document_count().await.unwrap(), 2);
    assert_eq!(view.count_documents(doc! {"x": 30}).await.unwrap(), 1);
    let found: Vec<Document> = db
        .collection::<Document>("vv")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![doc! {"x": 20}, doc! {"x": 30}],
        "views of views stack"
    );
    let err = view.insert_one(doc! {"_id": 9}).await.unwrap_err();
    assert_eq!(code_of(&err), Some(166), "{err:?}");
    let kinds: Vec<(String, String)> = db
        .list_collections()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, format!("{:?}", s.collection_type)))
        .collect();
    assert!(kinds.contains(&("v".into(), "View".into())), "{kinds:?}");
}

#[tokio::test]
async fn dollar_prefixed_fields_in_id_are_rejected() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("ids").collection::<Document>("c");
    let err = coll
        .insert_one(doc! {"_id": {"a": {"$b": 1}}})
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), Some(52), "{err:?}");
    assert!(
        err.to_string()
            .contains("_id fields may not contain '$'-prefixed fields: $b"),
        "{err}"
    );
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 0);
    coll.insert_one(doc! {"_id": {"a": 1}, "$ok": 1})
        .await
        .expect("$-prefixed fields outside _id are allowed (5.0+)");
}

#[tokio::test]
async fn standalone_has_no_replica_set_and_no_change_streams() {
    let tb = crate::support::start_with(TestbedOptions {
        standalone: true,
        ..TestbedOptions::default()
    })
    .await;
    assert!(!tb.uri().contains("replicaSet"), "{}", tb.uri());
    let hello = crate::support::raw_command(tb.addr(), "admin", doc! {"hello": 1}).await;
    assert!(hello.get_bool("isWritablePrimary").unwrap());
    for key in ["setName", "hosts", "primary", "me"] {
        assert!(!hello.contains_key(key), "{key} in {hello}");
    }
    let client = crate::support::client_for(&tb.uri()).await;
    let coll = client.database("s").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1})
        .await
        .expect("CRUD works on a standalone");
    let err = coll.watch().await.unwrap_err();
    assert_eq!(code_of(&err), Some(40573), "{err:?}");
    assert!(
        err.to_string().contains("only supported on replica sets"),
        "{err}"
    );
}
