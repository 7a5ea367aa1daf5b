//! `configureFailPoint` / `failCommand` as the driver sees it: injected errors with labels,
//! `times`, dropped connections, blocked connections, `appName` targeting, write concern errors.

use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::Client;
use std::time::{Duration, Instant};

#[tokio::test]
async fn error_code_and_labels_for_n_times() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let data = doc! {"failCommands": ["ping"], "errorCode": 2, "errorLabels": ["InjectedLabel"]};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 2}), data).await;
    let admin = client.database("admin");
    for _ in 0..2 {
        let err = admin.run_command(doc! {"ping": 1}).await.unwrap_err();
        assert!(err.contains_label("InjectedLabel"), "{err:?}");
        assert!(
            matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 2 && e.code_name == "BadValue")
        );
    }
    admin
        .run_command(doc! {"ping": 1})
        .await
        .expect("fail point exhausted after 2 times");
}

#[tokio::test]
async fn retryable_write_error_is_labelled_and_retried() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let data = doc! {"failCommands": ["insert"], "errorCode": 91};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 1}), data).await;
    let coll = client.database("fp").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1})
        .await
        .expect("driver retries on RetryableWriteError");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn close_connection_drops_the_socket() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let data = doc! {"failCommands": ["ping"], "closeConnection": true};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 1}), data).await;
    let err = client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Io(_)),
        "network error expected, got {err:?}"
    );
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("next command works");

    // A retryable write survives one dropped connection.
    let data = doc! {"failCommands": ["insert"], "closeConnection": true};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 1}), data).await;
    let coll = client.database("fp").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1})
        .await
        .expect("retried after the dropped connection");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn block_connection_delays_the_command() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let data = doc! {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 300};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 1}), data).await;
    let coll = client.database("fp").collection::<Document>("c");
    let start = Instant::now();
    coll.find_one(doc! {}).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    let start = Instant::now();
    coll.find_one(doc! {}).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(250), "only once");
}

#[tokio::test]
async fn app_name_targets_one_client() {
    let tb = crate::support::start().await;
    let plain = crate::support::client(&tb).await;
    let mut opts = ClientOptions::parse(tb.uri()).await.unwrap();
    opts.app_name = Some("victim".into());
    let victim = Client::with_options(opts).unwrap();
    let data = doc! {"failCommands": ["ping"], "errorCode": 2, "appName": "victim"};
    crate::support::fail_point(&plain, Bson::String("alwaysOn".into()), data).await;
    plain
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("other clients unaffected");
    assert!(victim
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .is_err());
    crate::support::fail_point_off(&plain).await;
    victim
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("off");
}

#[tokio::test]
async fn write_concern_error_is_attached_after_the_write() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let data = doc! {"failCommands": ["insert"], "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}};
    crate::support::fail_point(&client, Bson::Document(doc! {"times": 1}), data).await;
    let coll = client.database("fp").collection::<Document>("c");
    let err = coll.insert_one(doc! {"_id": 1}).await.unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Write(WriteFailure::WriteConcernError(ref e)) if e.code == 64),
        "{err:?}"
    );
    assert_eq!(
        coll.count_documents(doc! {}).await.unwrap(),
        1,
        "the write itself happened"
    );
}
