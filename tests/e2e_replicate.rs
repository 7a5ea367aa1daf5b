//! End to end through TCP with the official driver: a mixed random workload running during the
//! copy and during the tail ends identical, in both update modes.

mod support;

use mongo_replicator::config::UpdateMode;
use std::time::Duration;
use support::workload::Workload;
use support::{assert_identical, config, db_names, seed, with_mode, Deployment, Replicator};

async fn converges(mode: UpdateMode, tag: &str) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let cfg = with_mode(config(&dep.uri, &src, &dst), mode);
    let source = dep.db(&src);
    let mut workload = Workload::new(seed());
    workload.run(&source, 600).await; // before the copy

    let concurrent = {
        let source = source.clone();
        let mut w = Workload::new(seed() + 1);
        tokio::spawn(async move {
            w.run(&source, 1500).await; // during the copy and the tail
        })
    };
    let replicator = Replicator::start(&cfg).await;
    concurrent.await.unwrap();
    workload.run(&source, 500).await; // while tailing
    replicator.caught_up(Duration::from_secs(60)).await;
    assert_identical(&dep, &cfg).await;
    let applied = replicator.telemetry.status.to_json()["events_applied"].clone();
    assert!(
        applied["insert"].as_u64().unwrap_or(0) > 0,
        "no inserts applied: {applied}"
    );
    replicator.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_workload_converges_in_delta_mode() {
    converges(UpdateMode::Delta, "delta").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_workload_converges_in_full_document_mode() {
    converges(UpdateMode::FullDocument, "full").await;
}
