//! `apply.delay_seconds = 3`: a live write, a backlog present at start and a write caught by a
//! kill -9 mid-delay each reach the backup, and none earlier than 3 s after its source write.

use super::{count, setup, tailing, WAIT};
use crate::control::{get_authed, json};
use crate::support::procs::ReplicatorProcess;
use crate::support::{converge, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::Config;
use mongo_replicator::ops::metrics::names;

const DELAY_MS: i64 = 3000;

fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

/// Inserts `_id` into orders; returns the time just before (the server's wall time is later).
async fn write(dep: &Deployment, cfg: &Config, id: i32) -> i64 {
    let before = now_ms();
    dep.db(&cfg.source.database)
        .collection::<Document>("orders")
        .insert_one(doc! {"_id": id})
        .await
        .unwrap();
    before
}

/// Waits until `_id` is on the backup; asserts it came no earlier than `written + DELAY_MS`.
async fn arrives_delayed(dep: &Deployment, cfg: &Config, id: i32, written: i64) {
    let backup = dep
        .db(&cfg.target.database)
        .collection::<Document>("orders");
    wait_until(&format!("order {id} on the backup"), WAIT, || async {
        backup.find_one(doc! {"_id": id}).await.unwrap().is_some()
    })
    .await;
    // Right after the poll that found it: no earlier than when it was applied.
    let seen_at = now_ms();
    assert!(
        seen_at >= written + DELAY_MS,
        "order {id} applied {} ms after its write, before the {DELAY_MS} ms delay",
        seen_at - written
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_apply_holds_live_backlog_and_restarted_writes_for_the_delay_and_loses_none() {
    let (dep, mut cfg) = setup("hold_delay", &["orders"], 1).await;
    cfg.apply.delay_seconds = 3;
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    assert_eq!(p.metric(names::APPLY_DELAY_SECONDS).await, 3.0);

    let written = write(&dep, &cfg, 1).await;
    arrives_delayed(&dep, &cfg, 1, written).await;

    // A backlog present at start: written while the replicator is down.
    p.kill9();
    let written = write(&dep, &cfg, 2).await;
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    arrives_delayed(&dep, &cfg, 2, written).await;

    // A kill -9 while a read write waits out its delay: the checkpoint is before it.
    let written = write(&dep, &cfg, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        count(&dep, &cfg.target.database, "orders").await,
        3,
        "3 not yet"
    );
    let status = json(&get_authed(p.http, "/api/v1/status").await);
    assert_eq!(
        status["lag_seconds"], 0.0,
        "lag counts only beyond the delay"
    );
    p.kill9();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    arrives_delayed(&dep, &cfg, 3, written).await;
    converge(&dep, &cfg, WAIT).await;
    drop(p);
}
