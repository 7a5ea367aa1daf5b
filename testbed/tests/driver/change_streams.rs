//! Change streams through the driver's `watch()`: every event type at collection, database and
//! deployment level, resume after a driver restart, `startAfter` an invalidate,
//! `startAtOperationTime`, `postBatchResumeToken` long-polls, 286 when history is gone,
//! resuming an old token after a `--dbpath` restart, and events over 16 MiB (split into
//! fragments by `$changeStreamSplitLargeEvent`, resumable between fragments; 10334 without it).

use futures::StreamExt;
use mongo_testbed::TestbedOptions;
use mongodb::bson::{doc, Document, Timestamp};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::FullDocumentType;
use std::time::{Duration, Instant};

type Events = ChangeStream<ChangeStreamEvent<Document>>;

async fn next(stream: &mut Events) -> ChangeStreamEvent<Document> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event within 5 s")
        .expect("stream not exhausted")
        .expect("no error")
}

#[tokio::test]
async fn collection_stream_sees_every_event_type() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("cs").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap(); // the collection exists before watching
    let mut stream = coll.watch().await.unwrap();

    coll.insert_one(doc! {"_id": 1, "a": 1, "b": 2})
        .await
        .unwrap();
    coll.update_one(
        doc! {"_id": 1},
        doc! {"$set": {"a": 5}, "$unset": {"b": ""}},
    )
    .await
    .unwrap();
    coll.replace_one(doc! {"_id": 1}, doc! {"z": 1})
        .await
        .unwrap();
    coll.delete_one(doc! {"_id": 1}).await.unwrap();
    coll.drop().await.unwrap();

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Insert);
    assert_eq!(e.document_key, Some(doc! {"_id": 1}));
    assert_eq!(e.full_document, Some(doc! {"_id": 1, "a": 1, "b": 2}));
    let ns = e.ns.unwrap();
    assert_eq!((ns.db.as_str(), ns.coll.as_deref()), ("cs", Some("c")));
    assert!(e.cluster_time.is_some());

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Update);
    let ud = e.update_description.unwrap();
    assert_eq!(ud.updated_fields, doc! {"a": 5});
    assert_eq!(ud.removed_fields, vec!["b".to_string()]);
    assert!(e.full_document.is_none(), "no lookup by default");

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Replace);
    assert_eq!(e.full_document, Some(doc! {"_id": 1, "z": 1}));

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Delete);
    assert_eq!(e.document_key, Some(doc! {"_id": 1}));

    assert_eq!(next(&mut stream).await.operation_type, OperationType::Drop);
    assert_eq!(
        next(&mut stream).await.operation_type,
        OperationType::Invalidate
    );
    assert!(
        stream.next().await.is_none(),
        "stream ends after invalidate"
    );
}

#[tokio::test]
async fn rename_invalidates_a_collection_stream_and_update_lookup_works() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("cs").collection::<Document>("r");
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();
    let mut stream = coll
        .watch()
        .full_document(FullDocumentType::UpdateLookup)
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})
        .await
        .unwrap();
    // The lookup happens when the event is read, so read it before the rename.
    let e = next(&mut stream).await;
    assert_eq!(
        e.full_document,
        Some(doc! {"_id": 1, "n": 1}),
        "updateLookup"
    );
    client
        .database("admin")
        .run_command(doc! {"renameCollection": "cs.r", "to": "cs.r2"})
        .await
        .unwrap();

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Rename);
    let to = e.to.unwrap();
    assert_eq!((to.db.as_str(), to.coll.as_deref()), ("cs", Some("r2")));
    assert_eq!(
        next(&mut stream).await.operation_type,
        OperationType::Invalidate
    );
}

#[tokio::test]
async fn database_and_cluster_streams() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("dbs");
    let mut db_stream = db.watch().await.unwrap();
    let mut all = client.watch().await.unwrap();

    db.collection::<Document>("a")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    db.collection::<Document>("b")
        .insert_one(doc! {"_id": 2})
        .await
        .unwrap();
    client
        .database("other")
        .collection::<Document>("x")
        .insert_one(doc! {"_id": 3})
        .await
        .unwrap();
    db.collection::<Document>("a").drop().await.unwrap();
    db.drop().await.unwrap();

    let e = next(&mut db_stream).await;
    assert_eq!(e.ns.unwrap().coll.as_deref(), Some("a"));
    let e = next(&mut db_stream).await;
    assert_eq!(e.ns.unwrap().coll.as_deref(), Some("b"));
    let e = next(&mut db_stream).await;
    assert_eq!(
        e.operation_type,
        OperationType::Drop,
        "other databases are not seen"
    );
    // Dropping the database drops `b` first, then reports dropDatabase and invalidates.
    let mut ops = Vec::new();
    loop {
        let e = next(&mut db_stream).await;
        ops.push(e.operation_type.clone());
        if e.operation_type == OperationType::Invalidate {
            break;
        }
    }
    assert_eq!(ops.last(), Some(&OperationType::Invalidate));
    assert!(ops.contains(&OperationType::DropDatabase), "{ops:?}");

    let dbs: Vec<String> = [
        next(&mut all).await,
        next(&mut all).await,
        next(&mut all).await,
    ]
    .into_iter()
    .map(|e| e.ns.unwrap().db)
    .collect();
    assert_eq!(dbs, vec!["dbs", "dbs", "other"]);
}

#[tokio::test]
async fn resume_after_a_driver_restart() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("res").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_many((1..=4).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    next(&mut stream).await;
    let second = next(&mut stream).await;
    let token = second.id.clone();
    drop(stream);
    drop(client);

    let client = crate::support::client(&tb).await;
    let coll = client.database("res").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 5}).await.unwrap();
    let mut stream = coll.watch().resume_after(token).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            next(&mut stream)
                .await
                .document_key
                .unwrap()
                .get_i32("_id")
                .unwrap(),
        );
    }
    assert_eq!(ids, vec![3, 4, 5], "resumes right after the token");
}

#[tokio::test]
async fn start_after_an_invalidate() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("sa").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.drop().await.unwrap();
    assert_eq!(next(&mut stream).await.operation_type, OperationType::Drop);
    let invalidate = next(&mut stream).await;
    assert_eq!(invalidate.operation_type, OperationType::Invalidate);

    coll.insert_one(doc! {"_id": 2}).await.unwrap();
    let mut stream = coll.watch().start_after(invalidate.id).await.unwrap();
    let e = next(&mut stream).await;
    assert_eq!(
        (e.operation_type, e.document_key),
        (OperationType::Insert, Some(doc! {"_id": 2}))
    );
}

#[tokio::test]
async fn start_at_operation_time() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("sat");
    let reply = db
        .run_command(doc! {"insert": "c", "documents": [{"_id": 1}]})
        .await
        .unwrap();
    let ts: Timestamp = reply.get_timestamp("operationTime").unwrap();
    db.collection::<Document>("c")
        .insert_one(doc! {"_id": 2})
        .await
        .unwrap();
    let mut stream = db
        .collection::<Document>("c")
        .watch()
        .start_at_operation_time(ts)
        .await
        .unwrap();
    let first = next(&mut stream).await;
    assert_eq!(
        first.document_key,
        Some(doc! {"_id": 1}),
        "event at the operation time is included"
    );
    assert_eq!(next(&mut stream).await.document_key, Some(doc! {"_id": 2}));
}

#[tokio::test]
async fn raw_cursor_carries_post_batch_resume_token_and_long_polls() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("raw");
    db.collection::<Document>("c")
        .insert_one(doc! {"_id": 0})
        .await
        .unwrap();
    let reply = db
        .run_command(doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}})
        .await
        .unwrap();
    let cursor = reply.get_document("cursor").unwrap();
    assert!(cursor.get_array("firstBatch").unwrap().is_empty());
    assert!(cursor.get_document("postBatchResumeToken").is_ok());
    assert_eq!(cursor.get_str("ns").unwrap(), "raw.c");
    let id = cursor.get_i64("id").unwrap();
    assert_ne!(id, 0);

    let start = Instant::now();
    let more = db
        .run_command(doc! {"getMore": id, "collection": "c", "maxTimeMS": 300})
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    let cursor = more.get_document("cursor").unwrap();
    assert!(cursor.get_array("nextBatch").unwrap().is_empty());
    assert!(cursor.get_document("postBatchResumeToken").is_ok());

    // An event arriving during the wait ends it early.
    let writer = db.collection::<Document>("c");
    let write = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer.insert_one(doc! {"_id": 1}).await.unwrap();
    };
    let start = Instant::now();
    let (more, ()) = tokio::join!(
        db.run_command(doc! {"getMore": id, "collection": "c", "maxTimeMS": 5000}),
        write
    );
    let batch = more
        .unwrap()
        .get_document("cursor")
        .unwrap()
        .get_array("nextBatch")
        .unwrap()
        .clone();
    assert_eq!(batch.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn history_lost_is_286() {
    let tb = crate::support::start_with(TestbedOptions {
        oplog_max_entries: 5,
        ..TestbedOptions::default()
    })
    .await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("h").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let token = next(&mut stream).await.id;
    drop(stream);
    for i in 2..40 {
        coll.insert_one(doc! {"_id": i}).await.unwrap();
    }
    let err = coll.watch().resume_after(token).await.unwrap_err();
    match *err.kind {
        ErrorKind::Command(ref e) => assert_eq!(
            (e.code, e.code_name.as_str()),
            (286, "ChangeStreamHistoryLost")
        ),
        ref other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn old_token_resumes_after_a_dbpath_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tb = crate::support::start_on(dir.path().to_path_buf()).await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("pr").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_many(vec![doc! {"_id": 1}, doc! {"_id": 2}])
        .await
        .unwrap();
    let token = next(&mut stream).await.id;
    drop(stream);
    drop(client);
    tb.shutdown().await;

    let tb = crate::support::start_on(dir.path().to_path_buf()).await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("pr").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 3}).await.unwrap();
    let mut stream = coll.watch().resume_after(token).await.unwrap();
    let a = next(&mut stream).await.document_key.unwrap();
    let b = next(&mut stream).await.document_key.unwrap();
    assert_eq!((a, b), (doc! {"_id": 2}, doc! {"_id": 3}));
}

#[tokio::test]
async fn driver_resumes_after_a_dropped_get_more() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("fpcs").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    assert_eq!(next(&mut stream).await.document_key, Some(doc! {"_id": 1}));
    let data = doc! {"failCommands": ["getMore"], "closeConnection": true};
    crate::support::fail_point(
        &client,
        mongodb::bson::Bson::Document(doc! {"times": 1}),
        data,
    )
    .await;
    coll.insert_one(doc! {"_id": 2}).await.unwrap();
    assert_eq!(
        next(&mut stream).await.document_key,
        Some(doc! {"_id": 2}),
        "resumed, nothing lost or repeated"
    );
}

/// A pipeline update is logged as a delta when one expresses it (an `update` event with its
/// `updateDescription`), else as a full replacement (a `replace` event), as mongod does.
#[tokio::test]
async fn pipeline_updates_are_update_or_replace_events() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("cs").collection::<Document>("pipe");
    coll.insert_one(doc! {"_id": 1, "a": 1, "b": 2, "c": 3})
        .await
        .unwrap();
    let mut stream = coll.watch().await.unwrap();

    coll.update_one(
        doc! {"_id": 1},
        vec![
            doc! {"$set": {"a": {"$add": ["$a", 1]}, "d": "new"}},
            doc! {"$unset": "b"},
        ],
    )
    .await
    .unwrap();
    // Same fields, another order: no `$set`/`$unset` sequence gives it.
    coll.update_one(
        doc! {"_id": 1},
        vec![doc! {"$replaceWith": {"d": "$d", "c": "$c", "a": "$a"}}],
    )
    .await
    .unwrap();

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Update);
    let ud = e.update_description.unwrap();
    assert_eq!(ud.updated_fields, doc! {"a": 2, "d": "new"});
    assert_eq!(ud.removed_fields, vec!["b".to_string()]);
    assert_eq!(ud.truncated_arrays.map(|t| t.len()), Some(0));

    let e = next(&mut stream).await;
    assert_eq!(e.operation_type, OperationType::Replace);
    assert_eq!(e.document_key, Some(doc! {"_id": 1}));
    assert_eq!(
        e.full_document,
        Some(doc! {"_id": 1, "d": "new", "c": 3, "a": 2})
    );
}

/// Raw events: later fragments of a split event carry no `operationType`.
type Raw = ChangeStream<Document>;

async fn next_raw(stream: &mut Raw) -> Document {
    tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("event within 30 s")
        .expect("stream not exhausted")
        .expect("no error")
}

fn split_of(d: &Document) -> (i32, i32) {
    let s = d.get_document("splitEvent").expect("a fragment");
    (s.get_i32("fragment").unwrap(), s.get_i32("of").unwrap())
}

fn data(d: &Document) -> String {
    d.get_document("_id")
        .unwrap()
        .get_str("_data")
        .unwrap()
        .to_string()
}

fn bson_len(d: &Document) -> usize {
    mongodb::bson::to_vec(d).unwrap().len()
}

const MIB: usize = 1024 * 1024;

/// A near-16 MiB document whose large field is replaced: with `updateLookup` the event holds
/// it twice (~32 MiB) and comes as two fragments that hold the whole event; resuming after
/// fragment 1 (`resumeAfter` or `startAfter`) yields fragment 2, after fragment 2 the next event.
#[tokio::test]
async fn large_events_split_into_fragments_and_resume_between_them() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("split").collection::<Document>("c");
    let near = 16 * MIB - 1024;
    coll.insert_one(doc! {"_id": 1, "pad": "a".repeat(near)})
        .await
        .unwrap();
    let split = [doc! {"$changeStreamSplitLargeEvent": {}}];
    let watch = || {
        coll.watch()
            .pipeline(split.clone())
            .full_document(FullDocumentType::UpdateLookup)
    };
    let mut stream = watch().await.unwrap().with_type::<Document>();
    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"pad": "b".repeat(near)}})
        .await
        .unwrap();
    coll.insert_one(doc! {"_id": 2}).await.unwrap();

    let f1 = next_raw(&mut stream).await;
    let f2 = next_raw(&mut stream).await;
    assert_eq!((split_of(&f1), split_of(&f2)), ((1, 2), (2, 2)));
    for f in [&f1, &f2] {
        assert!(bson_len(f) < 16 * MIB + 16 * 1024, "{}", bson_len(f));
    }
    assert!(data(&f1) < data(&f2), "distinct, increasing tokens");
    // The context comes first; together the fragments hold the whole event.
    assert_eq!(f1.get_str("operationType").unwrap(), "update");
    let mut whole = Document::new();
    for f in [&f1, &f2] {
        for (k, v) in f.iter().filter(|(k, _)| *k != "_id" && *k != "splitEvent") {
            assert!(
                whole.insert(k, v.clone()).is_none(),
                "{k} in both fragments"
            );
        }
    }
    let full = whole.get_document("fullDocument").unwrap();
    assert_eq!(full.get_str("pad").unwrap().len(), near);
    assert!(full.get_str("pad").unwrap().starts_with('b'));
    let updated = whole
        .get_document("updateDescription")
        .unwrap()
        .get_document("updatedFields")
        .unwrap();
    assert_eq!(
        updated.get_str("pad").unwrap(),
        full.get_str("pad").unwrap()
    );
    assert_eq!(whole.get_document("documentKey").unwrap(), &doc! {"_id": 1});
    for k in ["ns", "clusterTime", "wallTime"] {
        assert!(whole.contains_key(k), "{k}");
    }
    let after = next_raw(&mut stream).await;
    assert_eq!(after.get_str("operationType").unwrap(), "insert");

    let token = |d: &Document| {
        mongodb::bson::from_document::<mongodb::change_stream::event::ResumeToken>(
            d.get_document("_id").unwrap().clone(),
        )
        .unwrap()
    };
    let mut resumed = watch()
        .resume_after(token(&f1))
        .await
        .unwrap()
        .with_type::<Document>();
    assert_eq!(next_raw(&mut resumed).await, f2, "resumeAfter fragment 1");
    let mut resumed = watch()
        .start_after(token(&f1))
        .await
        .unwrap()
        .with_type::<Document>();
    assert_eq!(next_raw(&mut resumed).await, f2, "startAfter fragment 1");
    let mut resumed = watch()
        .resume_after(token(&f2))
        .await
        .unwrap()
        .with_type::<Document>();
    assert_eq!(
        next_raw(&mut resumed).await,
        after,
        "after the last fragment"
    );
}

/// Without `$changeStreamSplitLargeEvent`, an event over mongod's 16 MiB + 16 KiB fails the
/// stream's getMore with BSONObjectTooLarge (10334); the insert of a document of exactly
/// 16 MiB (an event a little over 16 MiB) still comes whole.
#[tokio::test]
async fn an_event_too_large_fails_the_stream_without_the_split_stage() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("nosplit").collection::<Document>("c");
    let mut doc = doc! {"_id": 1, "pad": ""};
    let overhead = bson_len(&doc);
    doc.insert("pad", "a".repeat(16 * MIB - overhead));
    assert_eq!(bson_len(&doc), 16 * MIB);
    let mut stream = coll.watch().await.unwrap().with_type::<Document>();
    coll.insert_one(doc).await.unwrap();
    let insert = next_raw(&mut stream).await;
    assert!(bson_len(&insert) > 16 * MIB, "the insert event came whole");

    let mut stream = coll
        .watch()
        .full_document(FullDocumentType::UpdateLookup)
        .await
        .unwrap()
        .with_type::<Document>();
    // ~9 MiB of update description plus the looked-up 16 MiB document: ~25 MiB.
    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"pad": "b".repeat(9 * MIB)}})
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("answer within 30 s")
        .expect("stream not exhausted")
        .expect_err("the event is too large");
    match *e.kind {
        ErrorKind::Command(ref c) => {
            assert_eq!(
                (c.code, c.code_name.as_str()),
                (10334, "BSONObjectTooLarge")
            );
            assert!(c.message.starts_with("BSONObj size: "), "{}", c.message);
        }
        ref other => panic!("expected a command error, got {other:?}"),
    }
}
