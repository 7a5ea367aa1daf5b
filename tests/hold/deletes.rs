//! `apply.hold.deletes_per_minute = 5`: a `delete_many({})` of 20 documents applies the first 5
//! deletes and holds the other 15 and every later event of that collection, while the others
//! flow; the hold survives kill -9; discard keeps the backup's documents and applies what came
//! after the deletes; a second burst is released and applied.

use super::{count, decide, held_with, setup, tailing, WAIT};
use crate::support::procs::ReplicatorProcess;
use crate::support::{converge, wait_until};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_burst_is_held_survives_kill_9_and_is_discarded_or_released() {
    let (dep, mut cfg) = setup("hold_deletes", &["orders", "items"], 20).await;
    cfg.apply.hold.deletes_per_minute = 5;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;

    let orders = dep.db(&src).collection::<Document>("orders");
    orders.delete_many(doc! {}).await.unwrap();
    held_with(&p, "orders", "deletes", 15).await;
    orders.insert_one(doc! {"_id": 100}).await.unwrap();
    held_with(&p, "orders", "deletes", 16).await;
    assert_eq!(p.metric(names::HELD_CHANGES).await, 16.0);
    let items = dep.db(&src).collection::<Document>("items");
    items.delete_one(doc! {"_id": 0}).await.unwrap();
    wait_until("items flow while orders is held", WAIT, || async {
        count(&dep, &dst, "items").await == 19
    })
    .await;
    assert_eq!(count(&dep, &dst, "orders").await, 15, "5 deletes applied");

    // kill -9: the hold is in the checkpoint; the restart re-reads and holds the events again.
    p.kill9();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    wait_until("orders held again after the restart", WAIT, || async {
        super::held(&p, "orders")
            .await
            .is_some_and(|h| h["kind"] == "deletes" && h["count"].as_u64().is_some_and(|n| n >= 16))
    })
    .await;
    assert_eq!(count(&dep, &dst, "orders").await, 15, "nothing applied");

    decide(&p, "discard", "orders").await;
    let backup = dep.db(&dst).collection::<Document>("orders");
    wait_until("the insert after the deletes applied", WAIT, || async {
        backup.find_one(doc! {"_id": 100}).await.unwrap().is_some()
    })
    .await;
    assert_eq!(
        count(&dep, &dst, "orders").await,
        16,
        "the backup kept its 15"
    );

    // A second burst, released: the held deletes are applied.
    let fresh: Vec<Document> = (200..210).map(|i| doc! {"_id": i}).collect();
    orders.insert_many(fresh).await.unwrap();
    wait_until("new orders flow", WAIT, || async {
        count(&dep, &dst, "orders").await == 26
    })
    .await;
    orders.delete_many(doc! {}).await.unwrap();
    held_with(&p, "orders", "deletes", 6).await;
    decide(&p, "release", "orders").await;
    wait_until("released deletes applied", WAIT, || async {
        count(&dep, &dst, "orders").await == 15
    })
    .await;
    assert_eq!(p.metric(names::HELD_CHANGES).await, 0.0);
}
