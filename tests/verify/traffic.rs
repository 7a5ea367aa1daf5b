//! Heavy mixed traffic (inserts, updates, replaces, deletes over several collections, and DDL:
//! renames, drops, index changes) for [`DURATION`] with the continuous verifier at a high rate:
//! the sweeps and the recent-change checks see moving data all the time, and report zero
//! divergences. The backup is identical at the end.

use super::{divergences, start, sweep_number, verify_config, WAIT};
use crate::support::http::series;
use crate::support::workload::{Traffic, TrafficPlan};
use crate::support::{converge, seed, wait_until, Deployment};
use mongo_replicator::verify::metrics as vm;
use std::time::{Duration, Instant};

/// How long the traffic runs (the 60 s).
const DURATION: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heavy_mixed_traffic_gives_zero_divergences() {
    let dir = tempfile::tempdir().unwrap();
    let dep = Deployment::start().await;
    let cfg = verify_config(&dep, "vfy_traffic", 50_000);
    let db = dep.db(&cfg.source.database);
    crate::support::workload::Workload::new(seed())
        .run(&db, 500)
        .await;
    let p = start(dir.path(), &cfg).await;
    let plan = TrafficPlan {
        ddl_steps: 1,
        ..TrafficPlan::new(40, Duration::from_millis(20))
    };
    let traffic = Traffic::start(&db, seed(), plan);
    let began = Instant::now();
    let first = sweep_number(&p).await;
    while began.elapsed() < DURATION {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let list = divergences(&p).await;
        assert_eq!(list["total"], 0, "a divergence under traffic: {list}");
    }
    traffic.stop().await;
    converge(&dep, &cfg, WAIT).await;
    let list = divergences(&p).await;
    assert_eq!(list["total"], 0, "a divergence under traffic: {list}");
    for kind in vm::KINDS {
        let s = series(vm::VERIFY_DIVERGENCES_TOTAL, "kind", kind);
        assert_eq!(p.metric(&s).await, 0.0, "{kind}");
    }
    assert!(
        sweep_number(&p).await > first,
        "full sweeps ran during the traffic"
    );
    wait_until("documents compared", WAIT, || async {
        p.metric(vm::VERIFY_DOCUMENTS_TOTAL).await >= 1000.0
    })
    .await;
}
