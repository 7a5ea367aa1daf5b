//! Issue 11 item 1: a rename of a collection while its initial copy is interrupted. The copy
//! follows collections by UUID across the restart, and the replayed `rename` (with `dropTarget`)
//! must never put a stale copy under the old name over the complete one.

use crate::support::faults;
use crate::support::procs::ReplicatorProcess;
use crate::support::{
    config, converge, db_names, rename_collection, skip_on_real_server, write_config, Deployment,
    Needs,
};
use bson::{doc, Document};
use std::time::Duration;

const DOCS: i32 = 1000;
const BATCH: u32 = 100;

/// `orders` is 40% copied when the copy stops (a refused insert batch, as a `kill -9` would
/// leave it: progress saved per batch); the source writes to `orders`, renames it to
/// `orders_2024` and writes there; the restarted `run` must end identical, with no `orders` left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_while_the_copy_is_interrupted_is_followed_by_uuid() {
    skip_on_real_server!(Needs::FailPoints);
    let dep = Deployment::start().await;
    let (src, dst) = db_names("copyrename");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.copy.batch_size = BATCH;
    cfg.copy.parallel_collections = 1;
    let source = dep.db(&src);
    let docs: Vec<Document> = (0..DOCS).map(|i| doc! {"_id": i, "v": i}).collect();
    source
        .collection::<Document>("orders")
        .insert_many(docs)
        .await
        .unwrap();
    // The fifth copy batch is refused with a fatal code: 4 of 10 batches are copied.
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    faults::interrupted_copy(&dep, &path, 4).await;
    let target = dep.db(&dst);
    let partial = target
        .collection::<Document>("orders")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(partial, 400, "interrupted at 40%");

    // After the start point: writes under the old name, the rename, writes under the new one.
    let orders = source.collection::<Document>("orders");
    orders
        .insert_one(doc! {"_id": DOCS, "v": "before the rename"})
        .await
        .unwrap();
    orders
        .update_one(doc! {"_id": 10}, doc! {"$set": {"v": "updated before"}})
        .await
        .unwrap();
    rename_collection(&dep, &src, "orders", "orders_2024", false).await;
    source
        .collection::<Document>("orders_2024")
        .insert_one(doc! {"_id": DOCS + 1, "v": "after the rename"})
        .await
        .unwrap();

    let replicator = ReplicatorProcess::run(dir.path(), &cfg);
    converge(&dep, &cfg, Duration::from_secs(60)).await;
    let names = target.list_collection_names().await.unwrap();
    assert!(
        !names.contains(&"orders".to_string()),
        "no stale copy under the old name: {names:?}"
    );
    let copied = target
        .collection::<Document>("orders_2024")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(copied, DOCS as u64 + 2);
    assert_eq!(replicator.terminate(Duration::from_secs(10)).await, Some(0));
}
