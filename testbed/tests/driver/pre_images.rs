//! Change-stream pre- and post-images (MongoDB 6.0+) through the driver: recorded while a
//! collection has `changeStreamPreAndPostImages` enabled (by `collMod` or `create`), read as
//! `fullDocumentBeforeChange` and `fullDocument: whenAvailable | required`; a missing one
//! (written while disabled, collection dropped, expired by `changeStreamOptions`) is null, or
//! fails a `required` stream with NoMatchingDocument (47).

use futures::StreamExt;
use mongodb::bson::{doc, Bson, Document, Timestamp};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::FullDocumentType as After;
use mongodb::options::{ChangeStreamPreAndPostImages, FullDocumentBeforeChangeType as Before};
use mongodb::{Collection, Database};
use std::time::Duration;

type Event = ChangeStreamEvent<Document>;

fn enabled() -> ChangeStreamPreAndPostImages {
    ChangeStreamPreAndPostImages::builder()
        .enabled(true)
        .build()
}

/// The cluster time of a command (its reply's `operationTime`).
async fn op_time(db: &Database, cmd: Document) -> Timestamp {
    let reply = db.run_command(cmd).await.unwrap();
    reply.get_timestamp("operationTime").unwrap()
}

/// The first `n` events from `at`, or the error the stream fails with.
async fn events_from(
    coll: &Collection<Document>,
    at: Timestamp,
    before: Before,
    after: Option<After>,
    n: usize,
) -> Result<Vec<Event>, Error> {
    let watch = coll
        .watch()
        .start_at_operation_time(at)
        .full_document_before_change(before);
    let mut stream = match after {
        Some(after) => watch.full_document(after).await?,
        None => watch.await?,
    };
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("stream not exhausted");
        out.push(next?);
    }
    Ok(out)
}

fn is_no_matching_document(e: &Error) -> bool {
    matches!(*e.kind, ErrorKind::Command(ref c) if c.code == 47 && c.code_name == "NoMatchingDocument")
}

#[tokio::test]
async fn coll_mod_enables_pre_images_of_updates_replaces_and_deletes() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("pre");
    let coll = db.collection::<Document>("c");
    coll.insert_many([
        doc! {"_id": 1, "a": 1},
        doc! {"_id": 2, "a": 2},
        doc! {"_id": 3, "a": 3},
    ])
    .await
    .unwrap();
    let at = op_time(
        &db,
        doc! {"collMod": "c", "changeStreamPreAndPostImages": {"enabled": true}},
    )
    .await;
    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"a": 10}})
        .await
        .unwrap();
    coll.replace_one(doc! {"_id": 2}, doc! {"b": 2})
        .await
        .unwrap();
    coll.delete_one(doc! {"_id": 3}).await.unwrap();

    for (before, after) in [
        (Before::WhenAvailable, After::WhenAvailable),
        (Before::Required, After::Required),
    ] {
        let ev = events_from(&coll, at, before.clone(), Some(after), 3)
            .await
            .unwrap();
        let kinds: Vec<_> = ev.iter().map(|e| e.operation_type.clone()).collect();
        assert_eq!(
            kinds,
            [
                OperationType::Update,
                OperationType::Replace,
                OperationType::Delete
            ],
            "{before:?}"
        );
        let pre: Vec<_> = ev
            .iter()
            .map(|e| e.full_document_before_change.clone())
            .collect();
        assert_eq!(
            pre,
            [
                Some(doc! {"_id": 1, "a": 1}),
                Some(doc! {"_id": 2, "a": 2}),
                Some(doc! {"_id": 3, "a": 3})
            ],
            "{before:?}"
        );
        assert_eq!(ev[0].full_document, Some(doc! {"_id": 1, "a": 10}));
        assert_eq!(ev[1].full_document, Some(doc! {"_id": 2, "b": 2}));
    }
    let off = events_from(&coll, at, Before::Off, None, 1).await.unwrap();
    assert_eq!(off[0].full_document_before_change, None);
}

#[tokio::test]
async fn missing_pre_images_are_null_or_fail_a_required_stream() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("pre_missing");
    let coll = db.collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();
    let at = op_time(
        &db,
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"n": 1}}}]},
    )
    .await;
    // Written while enabled (n: 2) and after disabling (n: 3).
    for (on, n) in [(true, 2), (false, 3)] {
        db.run_command(doc! {"collMod": "c", "changeStreamPreAndPostImages": {"enabled": on}})
            .await
            .unwrap();
        coll.update_one(doc! {"_id": 1}, doc! {"$set": {"n": n}})
            .await
            .unwrap();
    }

    let ev = events_from(
        &coll,
        at,
        Before::WhenAvailable,
        Some(After::WhenAvailable),
        3,
    )
    .await
    .unwrap();
    let pre: Vec<_> = ev
        .iter()
        .map(|e| e.full_document_before_change.clone())
        .collect();
    assert_eq!(pre, [None, Some(doc! {"_id": 1, "n": 1}), None]);
    let post: Vec<_> = ev.iter().map(|e| e.full_document.clone()).collect();
    assert_eq!(post, [None, Some(doc! {"_id": 1, "n": 2}), None]);

    let err = events_from(&coll, at, Before::Required, None, 1)
        .await
        .unwrap_err();
    assert!(is_no_matching_document(&err), "{err}");
    let err = events_from(&coll, at, Before::Off, Some(After::Required), 1)
        .await
        .unwrap_err();
    assert!(is_no_matching_document(&err), "{err}");
}

#[tokio::test]
async fn pre_images_go_with_their_collection_and_expire() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("pre_bounds");
    db.create_collection("c")
        .change_stream_pre_and_post_images(enabled())
        .await
        .unwrap();
    let info = crate::support::collection_info(&db, "c").await;
    assert_eq!(
        info.get_document("options")
            .and_then(|o| o.get_document("changeStreamPreAndPostImages")),
        Ok(&doc! {"enabled": true}),
        "{info}"
    );
    let coll = db.collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let at = op_time(
        &db,
        doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]},
    )
    .await;
    let pre = |ev: Vec<Event>| ev[0].full_document_before_change.clone();
    let ev = events_from(&coll, at, Before::WhenAvailable, None, 1).await;
    assert_eq!(pre(ev.unwrap()), Some(doc! {"_id": 1}));
    coll.drop().await.unwrap();
    let ev = events_from(&coll, at, Before::WhenAvailable, None, 1).await;
    assert_eq!(pre(ev.unwrap()), None, "dropping removes the pre-images");

    let admin = client.database("admin");
    let expire = |v: Bson| doc! {"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": v}}}};
    let coll = db.collection::<Document>("d");
    db.create_collection("d")
        .change_stream_pre_and_post_images(enabled())
        .await
        .unwrap();
    coll.insert_one(doc! {"_id": 2}).await.unwrap();
    let at = op_time(
        &db,
        doc! {"delete": "d", "deletes": [{"q": {"_id": 2}, "limit": 1}]},
    )
    .await;
    let ev = events_from(&coll, at, Before::WhenAvailable, None, 1).await;
    assert_eq!(pre(ev.unwrap()), Some(doc! {"_id": 2}));
    admin.run_command(expire(Bson::Int64(1))).await.unwrap();
    let params = admin
        .run_command(doc! {"getClusterParameter": "changeStreamOptions"})
        .await
        .unwrap();
    let p = params.get_array("clusterParameters").unwrap()[0]
        .as_document()
        .unwrap()
        .clone();
    assert_eq!(
        p.get_document("preAndPostImages"),
        Ok(&doc! {"expireAfterSeconds": 1i64}),
        "{p}"
    );
    let expired = crate::support::wait_until(Duration::from_secs(20), || async {
        let ev = events_from(&coll, at, Before::WhenAvailable, None, 1).await;
        pre(ev.unwrap()).is_none()
    })
    .await;
    assert!(expired, "the pre-image expires after expireAfterSeconds");
    let err = events_from(&coll, at, Before::Required, None, 1)
        .await
        .unwrap_err();
    assert!(is_no_matching_document(&err), "{err}");
    admin.run_command(expire(Bson::from("off"))).await.unwrap();
    let err = db
        .run_command(doc! {"getClusterParameter": "changeStreamOptions"})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin database"), "{err}");
}
