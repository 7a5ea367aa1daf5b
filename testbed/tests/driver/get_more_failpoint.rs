//! `failGetMoreAfterCursorCheckout`, and the `ResumableChangeStreamError` label real servers put
//! on a failed change-stream `getMore` with a resumable code (drivers resume on the label alone).

use futures::StreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Client;

async fn fail_get_more(client: &Client, mode: Bson, code: i32) {
    client
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failGetMoreAfterCursorCheckout",
            "mode": mode,
            "data": {"errorCode": code, "closeConnection": false},
        })
        .await
        .expect("configureFailPoint");
}

/// Opens a raw change-stream cursor on `db.c`; returns its id.
async fn open_stream(client: &Client, db: &str) -> i64 {
    let reply = client
        .database(db)
        .run_command(doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}})
        .await
        .unwrap();
    reply.get_document("cursor").unwrap().get_i64("id").unwrap()
}

async fn get_more_reply(tb: &mongo_testbed::Testbed, db: &str, id: i64) -> Document {
    let cmd = doc! {"getMore": id, "collection": "c", "maxTimeMS": 50};
    crate::support::raw_command(tb.addr(), db, cmd).await
}

#[tokio::test]
async fn change_stream_get_more_fails_with_resumable_label_and_cursor_is_killed() {
    let tb = crate::support::start().await;
    let client = crate::support::direct_client(&tb).await;
    let id = open_stream(&client, "gm").await;
    fail_get_more(&client, Bson::Document(doc! {"times": 1}), 6).await;
    let reply = get_more_reply(&tb, "gm", id).await;
    assert_eq!(reply.get_i32("code"), Ok(6), "{reply}");
    assert_eq!(
        reply.get_array("errorLabels").unwrap(),
        &vec![Bson::String("ResumableChangeStreamError".into())]
    );
    let again = get_more_reply(&tb, "gm", id).await;
    assert_eq!(
        again.get_i32("code"),
        Ok(43),
        "the failed cursor is gone: {again}"
    );
}

#[tokio::test]
async fn non_resumable_code_and_plain_cursors_get_no_label() {
    let tb = crate::support::start().await;
    let client = crate::support::direct_client(&tb).await;
    let id = open_stream(&client, "gm").await;
    fail_get_more(&client, Bson::Document(doc! {"times": 1}), 2).await;
    let reply = get_more_reply(&tb, "gm", id).await;
    assert_eq!(reply.get_i32("code"), Ok(2));
    assert!(!reply.contains_key("errorLabels"), "{reply}");

    let coll = client.database("gm").collection::<Document>("c");
    coll.insert_many((0..5).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let reply = client
        .database("gm")
        .run_command(doc! {"find": "c", "batchSize": 1})
        .await
        .unwrap();
    let id = reply.get_document("cursor").unwrap().get_i64("id").unwrap();
    fail_get_more(&client, Bson::Document(doc! {"times": 1}), 6).await;
    let reply = get_more_reply(&tb, "gm", id).await;
    assert_eq!(reply.get_i32("code"), Ok(6));
    assert!(
        !reply.contains_key("errorLabels"),
        "a find cursor is not a change stream: {reply}"
    );
}

#[tokio::test]
async fn driver_resumes_a_change_stream_after_the_fail_point() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("gm").collection::<Document>("c");
    fail_get_more(&client, Bson::Document(doc! {"times": 1}), 10107).await;
    let mut stream = coll.watch().await.unwrap();
    coll.insert_one(doc! {"_id": 1, "x": 1}).await.unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("event before timeout")
        .expect("stream open")
        .expect("resumed after the injected NotWritablePrimary");
    assert_eq!(
        event.document_key,
        Some(doc! {"_id": 1}),
        "the insert arrives through the resumed stream"
    );
}

#[tokio::test]
async fn not_primary_errors_carry_the_current_topology_version() {
    let tb = crate::support::start().await;
    let client = crate::support::direct_client(&tb).await;
    let hello = crate::support::raw_command(tb.addr(), "admin", doc! {"hello": 1}).await;
    let id = open_stream(&client, "gm").await;
    fail_get_more(&client, Bson::Document(doc! {"times": 1}), 11602).await;
    let reply = get_more_reply(&tb, "gm", id).await;
    assert_eq!(reply.get_i32("code"), Ok(11602));
    assert_eq!(
        reply.get_document("topologyVersion").unwrap(),
        hello.get_document("topologyVersion").unwrap(),
        "drivers see the error is not news: {reply}"
    );
    crate::support::fail_point(
        &client,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["ping"], "errorCode": 2},
    )
    .await;
    let reply = crate::support::raw_command(tb.addr(), "admin", doc! {"ping": 1}).await;
    assert_eq!(reply.get_i32("code"), Ok(2));
    assert!(
        !reply.contains_key("topologyVersion"),
        "only not-primary/shutdown errors: {reply}"
    );
}
