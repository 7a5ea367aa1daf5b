//! Issue 11 item 18: with `source.collections` set, document events of other collections are
//! filtered by the server (`$match` in the change-stream pipeline), so they never reach the
//! replicator (nothing to hold while the target is stuck); DDL into a listed collection still
//! arrives.

use crate::support::{config, db_names, rename_collection, Deployment, Replicator};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use mongodb::Database;
use std::time::Duration;

async fn ids(db: &Database, coll: &str) -> Vec<i32> {
    let mut cursor = db
        .collection::<Document>(coll)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap();
    let mut out = Vec::new();
    while cursor.advance().await.unwrap() {
        out.push(
            cursor
                .deserialize_current()
                .unwrap()
                .get_i32("_id")
                .unwrap(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_collections_are_filtered_on_the_server() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("collfilter");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.source.collections = Some(vec!["listed".to_string()]);
    let source = dep.db(&src);
    source
        .collection::<Document>("listed")
        .insert_one(doc! {"_id": 0})
        .await
        .unwrap();
    // `other` exists before counting: its `create` is DDL, which the filter lets through.
    let other = source.collection::<Document>("other");
    other.insert_one(doc! {"_id": -1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    let received = r.metric(names::EVENTS_RECEIVED_TOTAL).await;
    for i in 0..50 {
        other.insert_one(doc! {"_id": i}).await.unwrap();
        other
            .update_one(doc! {"_id": i}, doc! {"$set": {"n": 1}})
            .await
            .unwrap();
    }
    other.delete_many(doc! {}).await.unwrap();
    source
        .collection::<Document>("listed")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    assert_eq!(
        r.metric(names::EVENTS_RECEIVED_TOTAL).await - received,
        1.0,
        "only the listed collection's insert reaches the replicator"
    );

    // DDL events pass the filter: a rename into the listed collection still replaces it.
    source
        .collection::<Document>("staging")
        .insert_many([doc! {"_id": 7}, doc! {"_id": 8}])
        .await
        .unwrap();
    rename_collection(&dep, &src, "staging", "listed", true).await;
    source
        .collection::<Document>("listed")
        .insert_one(doc! {"_id": 9})
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    let target = dep.db(&dst);
    assert_eq!(ids(&target, "listed").await.last(), Some(&9));
    assert!(ids(&target, "other").await.is_empty());
    r.shutdown().await.unwrap();
}
