//! Crashes (scenarios 1 and 2 of docs/RELIABILITY.md): `kill -9` of the replicator while DDL
//! runs and while checkpoints are written to a file, and `kill -9` of the source and target
//! servers restarted on the same port under traffic. Every run ends identical, with nothing
//! acknowledged lost. `LONG_TESTS=1` loops many more times.

use crate::support::faults;
use crate::support::procs::{ReplicatorProcess, TestbedProcess};
use crate::support::workload::{Traffic, TrafficPlan, Workload};
use crate::support::{
    config, converge, converge_between, db_names, long, rounds, seed, Deployment, Replicator,
};
use bson::{doc, Document};
use mongo_replicator::config::{CheckpointStoreKind, ConnectionString};
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ddl_and_file_checkpoint_writes_converges() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("crashddl");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(dir.path().join("checkpoint.json"));
    cfg.checkpoint.interval_ms = 10; // a checkpoint write is almost always in progress
    cfg.log.level = "warn".into();
    let source = dep.db(&src);
    let s = seed();
    Workload::new(s).run(&source, 200).await;

    let traffic = Traffic::start(
        &source,
        s,
        TrafficPlan {
            ddl_steps: 3,
            ..TrafficPlan::new(20, Duration::ZERO)
        },
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    let n = rounds(5, 40);
    for round in 0..n {
        let mut p = ReplicatorProcess::run(dir.path(), &cfg);
        let ms = rng.gen_range(300..2000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!(
                "replicator exited on its own ({status}) in round {round}:\n{}",
                p.log_text()
            );
        }
        p.kill9();
        eprintln!("round {round}: killed after {ms} ms");
    }
    traffic.stop().await;
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    // The long form leaves a backlog of ~190k events (unthrottled traffic over 40 rounds).
    let limit = if long() { 400 } else { 90 };
    converge(&dep, &cfg, Duration::from_secs(limit)).await;
    faults::settle(&p).await;
    assert!(
        std::fs::metadata(dir.path().join("checkpoint.json")).is_ok_and(|m| m.len() > 0),
        "the file checkpoint was not written"
    );
    assert_eq!(p.terminate(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_source_and_target_servers_under_traffic_converges() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut source_tb = TestbedProcess::start(dirs.0.path());
    let mut target_tb = TestbedProcess::start(dirs.1.path());
    let (src, dst) = db_names("crashsrv");
    let mut cfg = config(&source_tb.uri(), &src, &dst);
    cfg.target.uri = ConnectionString::new(target_tb.uri());
    let source_client = faults::client(&source_tb.uri()).await;
    let target_client = faults::client(&target_tb.uri()).await;
    let source = source_client.database(&src);
    let s = seed();
    Workload::new(s).run(&source, 200).await;
    let r = Replicator::start(&cfg).await;

    // Traffic that keeps going through the outages; acknowledged inserts are remembered.
    let traffic = Traffic::start(
        &source,
        s,
        TrafficPlan {
            acked: true,
            ..TrafficPlan::new(10, Duration::from_millis(5))
        },
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    for round in 0..rounds(2, 15) {
        for (side, tb) in [("source", &mut source_tb), ("target", &mut target_tb)] {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
            tb.kill9();
            let down = rng.gen_range(200..2000);
            tokio::time::sleep(Duration::from_millis(down)).await;
            tokio::task::block_in_place(|| tb.restart());
            eprintln!("round {round}: {side} down for {down} ms");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acked = traffic.stop().await;
    assert!(
        acked.len() > 50,
        "too little traffic got through: {}",
        acked.len()
    );

    converge_between(
        &cfg,
        &source,
        &target_client.database(&dst),
        Duration::from_secs(120),
    )
    .await;
    // Nothing acknowledged is lost: every acked insert is in the source and the backup.
    let in_target = target_client
        .database(&dst)
        .collection::<Document>("acked")
        .count_documents(doc! {"_id": {"$in": acked.clone()}})
        .await
        .unwrap();
    assert_eq!(
        in_target as usize,
        acked.len(),
        "acknowledged writes missing"
    );
    // No assertion on `retries_total` here: outages of at most 2 s are absorbed by the driver
    // itself (one retryable-write/read retry that waits in server selection, and the change
    // stream's own resume), so whether the replicator sees an error at all depends on timing.
    // Outages longer than server selection are counted: faults/outage.rs asserts that.
    faults::settle(&r).await;
    r.shutdown().await.unwrap();
}
