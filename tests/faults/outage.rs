//! Target outage (scenario 3 of docs/RELIABILITY.md): the target server is gone for a while
//! (15 s; 60 s under `LONG_TESTS=1`) while the source keeps writing. The replicator retries
//! with backoff, reports not-ready, keeps its memory bounded (back-pressure, not buffering),
//! drains the backlog once the target is back, and ends identical with lag 0.

use crate::support::faults;
use crate::support::procs::{rss_kib, ReplicatorProcess, TestbedProcess};
use crate::support::{config, converge_between, db_names, rounds, seed, wait_until, Deployment};
use mongo_replicator::config::ConnectionString;
use mongo_replicator::ops::metrics::names;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_down_under_load_retries_with_bounded_memory_and_drains() {
    let source = Deployment::start().await;
    let tdir = tempfile::tempdir().unwrap();
    let mut target_tb = TestbedProcess::start(tdir.path());
    let (src, dst) = db_names("outage");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&source.uri, &src, &dst);
    cfg.target.uri = ConnectionString::new(target_tb.uri());
    cfg.log.level = "warn".into();
    // What the replicator may hold is bounded by its batches and channels (2 x batch_size per
    // writer): keep that bound well below the backlog so the RSS check can tell the difference.
    cfg.apply.batch_size = 250;
    let db = source.db(&src);
    let orders = db.collection::<bson::Document>("orders");
    orders.insert_one(bson::doc! {"_id": -1}).await.unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    let target_client = faults::client(&target_tb.uri()).await;
    converge_between(
        &cfg,
        &db,
        &target_client.database(&dst),
        Duration::from_secs(30),
    )
    .await;
    let baseline = rss_kib(p.child.id()).unwrap();

    // 2 KiB documents as fast as the source takes them, through the outage.
    let s = seed();
    let writer = {
        let orders = orders.clone();
        tokio::spawn(async move {
            let mut i = 0i64;
            let start = Instant::now();
            let outage = Duration::from_secs(rounds(15, 60) as u64);
            while start.elapsed() < outage + Duration::from_secs(2) {
                let batch: Vec<bson::Document> = (0..50)
                    .map(|k| bson::doc! {"_id": i * 50 + k, "seed": s as i64, "pad": "p".repeat(2048)})
                    .collect();
                orders.insert_many(batch).await.unwrap();
                i += 1;
                // ~5 MiB/s: a backlog far above any reasonable RSS, drained in CI time.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            i * 50
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    target_tb.kill9();
    let down_at = Instant::now();
    // The working set of a replicator tailing at full speed (batches, channels, allocator
    // caches) is reached by now; what the outage may add is what the test is about.
    let at_outage = rss_kib(p.child.id()).expect("replicator died");
    let written_before = orders.estimated_document_count().await.unwrap();
    let mut peak = baseline.max(at_outage);
    let mut saw_not_ready = false;
    while down_at.elapsed() < Duration::from_secs(rounds(15, 60) as u64) {
        peak = peak.max(rss_kib(p.child.id()).expect("replicator died"));
        if let Some((503, _)) = p.get("/readyz").await {
            saw_not_ready = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let retries = p.metric(names::RETRIES_TOTAL).await;
    tokio::task::block_in_place(|| target_tb.restart());
    let written = writer.await.unwrap();
    eprintln!(
        "wrote {written} documents; RSS baseline {baseline} KiB, at outage {at_outage} KiB, peak {peak} KiB; {retries} retries"
    );
    assert!(
        saw_not_ready,
        "/readyz never said 503 while the target was down"
    );
    assert!(retries >= 3.0, "no retries while the target was down");
    // The backlog (tens of MiB of documents) stays in the source, not in the process: while it
    // grows, RSS does not follow it (measured from the start of the outage), and the whole
    // process stays within a fixed bound of its idle size.
    let backlog_kib = (written as u64).saturating_sub(written_before) * 2;
    assert!(
        peak < baseline + 96 * 1024 && peak < at_outage + backlog_kib / 2,
        "RSS grew from {baseline} (idle) and {at_outage} (outage start) to {peak} KiB while a {backlog_kib} KiB backlog built up"
    );
    converge_between(
        &cfg,
        &db,
        &target_client.database(&dst),
        Duration::from_secs(120),
    )
    .await;
    faults::settle(&p).await;
    wait_until("/readyz 200", Duration::from_secs(30), || async {
        matches!(p.get("/readyz").await, Some((200, _)))
    })
    .await;
    assert_eq!(p.terminate(Duration::from_secs(10)).await, Some(0));
}
