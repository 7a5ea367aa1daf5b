//! History lost while `apply.hold` holds a collection: the held events are gone with it, so the
//! re-copy ends the hold as a discard would. Its prune spares the held collection (the backup
//! keeps the documents the source no longer has), and the hold ends, on the event bus too.

use super::{held, held_with, tailing, WAIT};
use crate::control::token_config;
use crate::support::http::series;
use crate::support::procs::ReplicatorProcess;
use crate::support::{skip_on_real_server, wait_until, Deployment, Needs};
use bson::{doc, Document};
use mongo_replicator::config::{ConnectionString, OnHistoryLost};
use mongo_replicator::ops::metrics::names;
use mongo_testbed::TestbedOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lost_while_a_drop_is_held_keeps_that_collection_and_ends_its_hold() {
    skip_on_real_server!(Needs::TinyOplog);
    let dep = Deployment::start_with(TestbedOptions {
        oplog_max_entries: 300,
        ..Default::default()
    })
    .await;
    // The target apart, so the re-copy's writes do not push its start point out of the oplog.
    let target = Deployment::start().await;
    let mut cfg = token_config(&dep, "hold_lost", &["orders", "items"]);
    cfg.target.uri = ConnectionString::new(&target.uri);
    cfg.apply.hold.drops = true;
    cfg.on_history_lost = OnHistoryLost::Resync;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let orders = dep.db(&src).collection::<Document>("orders");
    orders
        .insert_many((0..3).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let items = dep.db(&src).collection::<Document>("items");
    items.insert_one(doc! {"_id": 0}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    wait_until("the copy", WAIT, || async {
        target.count(&dst, "orders").await == 3 && target.count(&dst, "items").await == 1
    })
    .await;

    orders.drop().await.unwrap();
    held_with(&p, "orders", "drop", 1).await;
    p.kill9();
    // Far more writes than the oplog holds: the checkpoint's token falls out of it.
    for chunk in 0..15 {
        let docs = (0..100).map(|i| doc! {"_id": 1 + chunk * 100 + i});
        items.insert_many(docs).await.unwrap();
    }

    let p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("the re-copy, then the hold's end", WAIT, || async {
        target.count(&dst, "items").await == 1501
            && p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
            && held(&p, "orders").await.is_none()
    })
    .await;
    assert_eq!(
        p.metric(&series(names::ERRORS_TOTAL, "kind", "history_lost"))
            .await,
        1.0,
        "history was not lost (once), the test proves nothing"
    );
    assert_eq!(
        target.count(&dst, "orders").await,
        3,
        "the re-copy kept the held collection"
    );
    assert_eq!(p.metric(names::HELD_CHANGES).await, 0.0);
    // The collection flows again.
    orders.insert_one(doc! {"_id": 10}).await.unwrap();
    wait_until("orders flow again", WAIT, || async {
        target.count(&dst, "orders").await == 4
    })
    .await;
}
