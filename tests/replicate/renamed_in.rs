//! Issue 11 item 4: with `source.collections` set, a collection outside the list renamed into a
//! listed one, and `$out` into a listed one (mongod writes a temporary collection and renames
//! it over the target), must leave the listed collection on the backup with the renamed-in
//! documents and indexes, and later changes to them must apply.

use crate::support::{
    config, create_index, db_names, documents as docs, index_names, rename_collection, Deployment,
    Replicator,
};
use bson::{doc, Document};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_or_out_from_an_unlisted_collection_fills_the_listed_one() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("renamein");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.source.collections = Some(vec!["listed".to_string(), "report".to_string()]);
    let source = dep.db(&src);
    let target = dep.db(&dst);
    source
        .collection::<Document>("listed")
        .insert_one(doc! {"_id": 0, "old": true})
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    // Built outside the list, then renamed over the listed collection.
    let staging = source.collection::<Document>("staging");
    staging
        .insert_many((1..=20).map(|i| doc! {"_id": i, "n": i}))
        .await
        .unwrap();
    create_index(&source, "staging", doc! {"n": 1}, false).await;
    rename_collection(&dep, &src, "staging", "listed", true).await;
    let listed = source.collection::<Document>("listed");
    listed
        .update_one(doc! {"_id": 3}, doc! {"$set": {"n": 300}})
        .await
        .unwrap();
    listed.delete_one(doc! {"_id": 4}).await.unwrap();

    // `$out` from an unlisted collection into another listed one.
    source
        .collection::<Document>("orders")
        .insert_many((0..10).map(|i| doc! {"_id": i, "total": i * 10}))
        .await
        .unwrap();
    source
        .collection::<Document>("orders")
        .aggregate([
            doc! {"$match": {"total": {"$gte": 50}}},
            doc! {"$out": "report"},
        ])
        .await
        .unwrap();
    source
        .collection::<Document>("report")
        .update_one(doc! {"_id": 9}, doc! {"$set": {"checked": true}})
        .await
        .unwrap();

    r.caught_up(Duration::from_secs(30)).await;
    for coll in ["listed", "report"] {
        let expected = docs(&source, coll).await;
        assert!(!expected.is_empty());
        assert_eq!(
            docs(&target, coll).await,
            expected,
            "{coll}: the backup lacks the renamed-in documents"
        );
    }
    assert_eq!(
        index_names(&target, "listed").await,
        index_names(&source, "listed").await,
        "the renamed-in collection's indexes"
    );
    assert!(docs(&target, "staging").await.is_empty());
    assert!(docs(&target, "orders").await.is_empty());
    r.shutdown().await.unwrap();
}
