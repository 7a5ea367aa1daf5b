//! Issue 11 item 19: while the target refuses writes, the change stream keeps being read until
//! the writers' queues are full. Bounded by event count alone, a backlog of large documents
//! would put GiBs in flight; `apply.max_queued_bytes` (default 64 MiB) bounds the bytes, so the
//! watcher stops reading once that many bytes wait for the writers.

use crate::support::{
    config, converge, db_names, fail_commands, fail_commands_off, skip_on_real_server, Deployment,
};
use crate::support::{Needs, Replicator};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

/// Bytes of each document's payload.
const DOC_BYTES: usize = 512 * 1024;
const DOCS: i32 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_large_documents_stays_within_the_queued_bytes_bound() {
    skip_on_real_server!(Needs::FailPoints);
    let dep = Deployment::start().await;
    let (src, dst) = db_names("queuedbytes");
    let cfg = config(&dep.uri, &src, &dst);
    let coll = dep.db(&src).collection::<Document>("big");
    coll.insert_one(doc! {"_id": -1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    // The target refuses every write of the replicator (transiently): nothing drains.
    fail_commands(&dep, &["insert", "update", "delete"], 91).await;
    let received = r.metric(names::EVENTS_RECEIVED_TOTAL).await;
    let payload = "x".repeat(DOC_BYTES);
    for i in 0..DOCS {
        coll.insert_one(doc! {"_id": i, "p": &payload})
            .await
            .unwrap();
    }
    // Reading stops once the queues are full: the count no longer moves for 3 s.
    let mut last = -1.0;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let now = r.metric(names::EVENTS_RECEIVED_TOTAL).await;
        if now == last || now - received >= f64::from(DOCS) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reading never settled"
        );
        last = now;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let in_flight = r.metric(names::EVENTS_RECEIVED_TOTAL).await - received;
    let bound = (64 * 1024 * 1024 / DOC_BYTES) as f64;
    assert!(
        in_flight <= bound + 2.0,
        "{in_flight} documents of {DOC_BYTES} bytes in flight: over the 64 MiB bound ({bound})"
    );

    fail_commands_off(&dep).await;
    converge(&dep, &cfg, Duration::from_secs(90)).await;
    r.shutdown().await.unwrap();
}
