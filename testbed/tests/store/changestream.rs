//! Change stream events, shapes, resume points and errors, against the store directly.

use bson::{doc, Bson, Document};
use mongo_testbed::changestream::{ChangeStream, Scope};
use mongo_testbed::pipeline::Pipeline;
use mongo_testbed::store::*;
use mongo_testbed::update::UpdateSpec;
use std::sync::Arc;
use std::time::Duration;

fn store() -> Arc<Store> {
    Store::open(StoreOptions::default()).unwrap()
}

fn ns() -> Namespace {
    Namespace::new("db", "c")
}

fn open(s: &Arc<Store>, scope: Scope, stage: Document) -> ChangeStream {
    ChangeStream::open(s.clone(), scope, &stage, Pipeline::new(&[]).unwrap()).unwrap()
}

fn coll_scope() -> Scope {
    Scope::Collection(ns())
}

async fn next(cs: &mut ChangeStream) -> Vec<Document> {
    cs.next_batch(1000, None).await.unwrap()
}

fn set(s: &Store, id: i32, u: Document) {
    let st = UpdateStatement {
        filter: doc! {"_id": id},
        update: UpdateSpec::parse(&u).unwrap(),
        upsert: false,
        multi: false,
        sort: None,
        collation: None,
    };
    assert!(s.update(&ns(), &[st], true).write_errors.is_empty());
}

fn op(e: &Document) -> &str {
    e.get_str("operationType").unwrap()
}

#[tokio::test]
async fn crud_events_have_documented_shapes() {
    let s = store();
    let mut cs = open(&s, coll_scope(), doc! {});
    s.insert(&ns(), vec![doc! {"_id": 1, "a": 1, "arr": [1, 2, 3]}], true);
    set(&s, 1, doc! {"$set": {"a": 2}, "$unset": {"zz": ""}});
    set(&s, 1, doc! {"_id": 1, "b": 1});
    s.delete(
        &ns(),
        &[DeleteStatement {
            filter: doc! {"_id": 1},
            limit_one: true,
            collation: None,
        }],
        true,
    );
    let ev = next(&mut cs).await;
    assert_eq!(ev.len(), 4);
    let keys = |d: &Document| d.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&ev[0]),
        [
            "_id",
            "operationType",
            "clusterTime",
            "wallTime",
            "fullDocument",
            "ns",
            "documentKey"
        ]
    );
    assert_eq!(op(&ev[0]), "insert");
    assert_eq!(
        ev[0].get_document("fullDocument").unwrap(),
        &doc! {"_id": 1, "a": 1, "arr": [1, 2, 3]}
    );
    assert_eq!(
        ev[0].get_document("ns").unwrap(),
        &doc! {"db": "db", "coll": "c"}
    );
    assert_eq!(ev[0].get_document("documentKey").unwrap(), &doc! {"_id": 1});
    assert!(matches!(ev[0].get("clusterTime"), Some(Bson::Timestamp(_))));
    assert!(matches!(ev[0].get("wallTime"), Some(Bson::DateTime(_))));
    assert_eq!(op(&ev[1]), "update");
    assert_eq!(
        keys(&ev[1]),
        [
            "_id",
            "operationType",
            "clusterTime",
            "wallTime",
            "ns",
            "documentKey",
            "updateDescription"
        ]
    );
    assert_eq!(
        ev[1].get_document("updateDescription").unwrap(),
        &doc! {"updatedFields": {"a": 2}, "removedFields": [], "truncatedArrays": []}
    );
    assert_eq!(op(&ev[2]), "replace");
    assert_eq!(
        ev[2].get_document("fullDocument").unwrap(),
        &doc! {"_id": 1, "b": 1}
    );
    assert_eq!(op(&ev[3]), "delete");
    assert_eq!(
        keys(&ev[3]),
        [
            "_id",
            "operationType",
            "clusterTime",
            "wallTime",
            "ns",
            "documentKey"
        ]
    );
    // Tokens increase in string order, like real ones.
    let tokens: Vec<String> = ev
        .iter()
        .map(|e| {
            e.get_document("_id")
                .unwrap()
                .get_str("_data")
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        &cs.post_batch_resume_token(),
        ev[3].get_document("_id").unwrap()
    );
}

#[tokio::test]
async fn update_lookup_returns_current_version_or_null() {
    let s = store();
    s.insert(&ns(), vec![doc! {"_id": 1, "a": 1}], true);
    let mut cs = open(&s, coll_scope(), doc! {"fullDocument": "updateLookup"});
    set(&s, 1, doc! {"$set": {"a": 2}});
    set(&s, 1, doc! {"$set": {"a": 3}});
    let ev = next(&mut cs).await;
    assert_eq!(
        ev[0].get_document("fullDocument").unwrap(),
        &doc! {"_id": 1, "a": 3}
    );
    set(&s, 1, doc! {"$set": {"a": 4}});
    s.delete(
        &ns(),
        &[DeleteStatement {
            filter: doc! {},
            limit_one: false,
            collation: None,
        }],
        true,
    );
    let ev = next(&mut cs).await;
    assert_eq!(ev[0].get("fullDocument"), Some(&Bson::Null));
}

#[tokio::test]
async fn scopes_filter_namespaces() {
    let s = store();
    let mut coll = open(&s, coll_scope(), doc! {});
    let mut db = open(&s, Scope::Database("db".into()), doc! {});
    let mut cluster = open(&s, Scope::Cluster, doc! {"allChangesForCluster": true});
    s.insert(&Namespace::new("db", "other"), vec![doc! {"x": 1}], true);
    s.insert(&Namespace::new("db2", "c"), vec![doc! {"y": 1}], true);
    s.insert(&Namespace::new("admin", "c"), vec![doc! {"y": 1}], true);
    s.insert(&ns(), vec![doc! {"z": 1}], true);
    assert_eq!(next(&mut coll).await.len(), 1);
    assert_eq!(next(&mut db).await.len(), 2);
    let all = next(&mut cluster).await;
    let dbs: Vec<&str> = all
        .iter()
        .map(|e| e.get_document("ns").unwrap().get_str("db").unwrap())
        .collect();
    assert_eq!(dbs, ["db", "db2", "db"]);
}

#[tokio::test]
async fn drop_and_rename_invalidate_collection_streams() {
    let s = store();
    s.insert(&ns(), vec![doc! {"_id": 1}], true);
    let mut cs = open(&s, coll_scope(), doc! {});
    let mut db = open(&s, Scope::Database("db".into()), doc! {});
    s.rename_collection(&ns(), &Namespace::new("db", "d"), false)
        .unwrap();
    let ev = next(&mut cs).await;
    assert_eq!(
        ev.iter().map(op).collect::<Vec<_>>(),
        ["rename", "invalidate"]
    );
    assert_eq!(
        ev[0].get_document("to").unwrap(),
        &doc! {"db": "db", "coll": "d"}
    );
    assert_eq!(
        ev[1].keys().collect::<Vec<_>>(),
        ["_id", "operationType", "clusterTime", "wallTime"]
    );
    assert!(cs.is_closed());
    assert!(next(&mut cs).await.is_empty());
    // startAfter the invalidate resumes after it; resumeAfter it is refused (260).
    let rename_token = ev[0].get_document("_id").unwrap().clone();
    let inv = ev[1].get_document("_id").unwrap().clone();
    let e = ChangeStream::open(
        s.clone(),
        coll_scope(),
        &doc! {"resumeAfter": inv.clone()},
        Pipeline::new(&[]).unwrap(),
    )
    .err()
    .unwrap();
    assert_eq!(e.code, 260);
    let mut after = open(&s, coll_scope(), doc! {"startAfter": inv});
    s.insert(&ns(), vec![doc! {"_id": 2}], true);
    let ev = next(&mut after).await;
    assert_eq!(ev.iter().map(op).collect::<Vec<_>>(), ["insert"]);
    // resumeAfter the rename event yields the invalidate again.
    let mut again = open(&s, coll_scope(), doc! {"resumeAfter": rename_token});
    let ev = next(&mut again).await;
    assert_eq!(ev.iter().map(op).collect::<Vec<_>>(), ["invalidate"]);
    // Database streams see drops and renames without invalidating, then dropDatabase invalidates.
    s.drop_database("db").unwrap();
    let ev = next(&mut db).await;
    assert_eq!(
        ev.iter().map(op).collect::<Vec<_>>(),
        [
            "rename",
            "insert",
            "drop",
            "drop",
            "dropDatabase",
            "invalidate"
        ]
    );
    assert_eq!(ev[4].get_document("ns").unwrap(), &doc! {"db": "db"});
    assert!(db.is_closed());
}

#[tokio::test]
async fn drop_emits_drop_then_invalidate() {
    let s = store();
    s.insert(&ns(), vec![doc! {"_id": 1}], true);
    let mut cs = open(&s, coll_scope(), doc! {});
    s.drop_collection(&ns()).unwrap();
    let ev = next(&mut cs).await;
    assert_eq!(
        ev.iter().map(op).collect::<Vec<_>>(),
        ["drop", "invalidate"]
    );
}

#[tokio::test]
async fn expanded_events_and_disambiguated_paths() {
    let s = store();
    let mut plain = open(&s, Scope::Database("db".into()), doc! {});
    let mut cs = open(
        &s,
        Scope::Database("db".into()),
        doc! {"showExpandedEvents": true},
    );
    s.insert(&ns(), vec![doc! {"_id": 1, "a": {"1": 1}}], true);
    s.create_indexes(&ns(), vec![doc! {"key": {"x": 1}}])
        .unwrap();
    set(&s, 1, doc! {"$set": {"a.1": 2}});
    s.drop_indexes(&ns(), &Bson::String("x_1".into())).unwrap();
    s.create_collection(&Namespace::new("db", "foo"), doc! {})
        .unwrap();
    s.rename_collection(&ns(), &Namespace::new("db", "foo"), true)
        .unwrap();
    let ev = next(&mut cs).await;
    assert_eq!(
        ev.iter().map(op).collect::<Vec<_>>(),
        [
            "create",
            "insert",
            "createIndexes",
            "update",
            "dropIndexes",
            "create",
            "rename"
        ]
    );
    assert!(matches!(ev[1].get("collectionUUID"), Some(Bson::Binary(_))));
    assert_eq!(
        ev[0].get_document("operationDescription").unwrap(),
        &doc! {"idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}
    );
    assert_eq!(
        ev[2].get_document("operationDescription").unwrap(),
        &doc! {"indexes": [{"v": 2, "key": {"x": 1}, "name": "x_1"}]}
    );
    let ud = ev[3].get_document("updateDescription").unwrap();
    assert_eq!(
        ud.get_document("disambiguatedPaths").unwrap(),
        &doc! {"a.1": ["a", "1"]}
    );
    let od = ev[6].get_document("operationDescription").unwrap();
    assert_eq!(
        od.get_document("to").unwrap(),
        &doc! {"db": "db", "coll": "foo"}
    );
    assert!(matches!(od.get("dropTarget"), Some(Bson::Binary(_))));
    let ev = next(&mut plain).await;
    assert_eq!(
        ev.iter().map(op).collect::<Vec<_>>(),
        ["insert", "update", "rename"]
    );
    assert!(ev[1]
        .get_document("updateDescription")
        .unwrap()
        .get("disambiguatedPaths")
        .is_none());
    assert!(ev[2].get("operationDescription").is_none());
}

#[tokio::test]
async fn resume_after_token_and_operation_time() {
    let s = store();
    let mut cs = open(&s, coll_scope(), doc! {});
    s.insert(&ns(), (0..5).map(|i| doc! {"_id": i}).collect(), true);
    let ev = cs.next_batch(2, None).await.unwrap();
    assert_eq!(ev.len(), 2);
    let token = cs.post_batch_resume_token();
    assert_eq!(&token, ev[1].get_document("_id").unwrap());
    let mut resumed = open(&s, coll_scope(), doc! {"resumeAfter": token});
    let ids: Vec<Bson> = next(&mut resumed)
        .await
        .iter()
        .map(|e| {
            e.get_document("documentKey")
                .unwrap()
                .get("_id")
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(ids, [Bson::Int32(2), Bson::Int32(3), Bson::Int32(4)]);
    let t = ev[1].get_timestamp("clusterTime").unwrap();
    let mut at = open(&s, coll_scope(), doc! {"startAtOperationTime": t});
    assert_eq!(
        next(&mut at).await.len(),
        4,
        "startAtOperationTime includes the event at that time"
    );
}

#[tokio::test]
async fn idle_post_batch_token_advances_and_resumes() {
    let s = store();
    let mut cs = open(&s, coll_scope(), doc! {});
    let t0 = cs.post_batch_resume_token();
    s.insert(&Namespace::new("db", "other"), vec![doc! {"_id": 1}], true);
    assert!(next(&mut cs).await.is_empty());
    let t1 = cs.post_batch_resume_token();
    assert!(t1.get_str("_data").unwrap() > t0.get_str("_data").unwrap());
    s.insert(&ns(), vec![doc! {"_id": 1}], true);
    let mut resumed = open(&s, coll_scope(), doc! {"resumeAfter": t1});
    assert_eq!(next(&mut resumed).await.len(), 1);
}

#[tokio::test]
async fn trimmed_history_is_286_at_open_and_while_open() {
    let s = Store::open(StoreOptions {
        dbpath: None,
        oplog_max_entries: 3,
    })
    .unwrap();
    let mut cs = open(&s, coll_scope(), doc! {});
    s.insert(&ns(), vec![doc! {"_id": 0}], true);
    let ev = next(&mut cs).await;
    let token = ev[0].get_document("_id").unwrap().clone();
    s.insert(&ns(), (1..10).map(|i| doc! {"_id": i}).collect(), true);
    let e = ChangeStream::open(
        s.clone(),
        coll_scope(),
        &doc! {"resumeAfter": token},
        Pipeline::new(&[]).unwrap(),
    )
    .err()
    .unwrap();
    assert_eq!(
        (e.code, e.code_name.as_str()),
        (286, "ChangeStreamHistoryLost")
    );
    assert_eq!(cs.next_batch(10, None).await.unwrap_err().code, 286);
}

#[tokio::test]
async fn long_poll_wakes_on_write() {
    let s = store();
    let mut cs = open(&s, coll_scope(), doc! {});
    let writer = s.clone();
    let t = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.insert(&ns(), vec![doc! {"_id": 1}], true);
    });
    let start = std::time::Instant::now();
    let ev = cs
        .next_batch(10, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(2));
    t.await.unwrap();
    let start = std::time::Instant::now();
    assert!(cs
        .next_batch(10, Some(Duration::from_millis(100)))
        .await
        .unwrap()
        .is_empty());
    assert!(start.elapsed() >= Duration::from_millis(90));
}

#[tokio::test]
async fn post_pipeline_applies_and_id_projection_is_fatal() {
    let s = store();
    let p = Pipeline::new(&[doc! {"$match": {"fullDocument.z": 3}}]).unwrap();
    let mut cs = ChangeStream::open(s.clone(), coll_scope(), &doc! {}, p).unwrap();
    let p = Pipeline::new(&[doc! {"$project": {"_id": 0}}]).unwrap();
    let mut bad = ChangeStream::open(s.clone(), coll_scope(), &doc! {}, p).unwrap();
    s.insert(&ns(), vec![doc! {"y": 2}, doc! {"z": 3}], true);
    let ev = next(&mut cs).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0]
            .get_document("fullDocument")
            .unwrap()
            .get_i32("z")
            .unwrap(),
        3
    );
    let e = bad.next_batch(10, None).await.unwrap_err();
    assert_eq!(e.code, 280);
    assert!(e
        .labels
        .contains(&"NonResumableChangeStreamError".to_string()));
}

#[test]
fn bad_options_are_rejected_like_mongod() {
    let s = store();
    let err = |stage: Document| {
        ChangeStream::open(s.clone(), coll_scope(), &stage, Pipeline::new(&[]).unwrap())
            .err()
            .unwrap()
            .code
    };
    assert_eq!(err(doc! {"bogus": 1}), 40415);
    assert_eq!(err(doc! {"fullDocument": "sometimes"}), 2);
    assert_eq!(err(doc! {"resumeAfter": {"_data": "zz"}}), 2);
}
