//! `ha.prefer_local_primary`: the active moves to the member whose own mongod is the primary,
//! without two actives at any sample, and stays there (no flapping).

use super::*;
use crate::support::workload::{Traffic, TrafficPlan};
use crate::support::{converge, seed, skip_on_real_server, Needs};
use mongo_replicator::config::ConnectionString;
use mongo_testbed::TestbedOptions;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_moves_next_to_the_primary_and_stays_there() {
    skip_on_real_server!(Needs::Standalone);
    let (dep, mut cfg, db) = pair("ha_primary").await;
    // A standalone mongod is no replica set's primary: the "far" members' own server.
    let far_server = Deployment::start_with(TestbedOptions {
        standalone: true,
        ..Default::default()
    })
    .await;
    cfg.ha.prefer_local_primary = true;
    let mut far = cfg.clone();
    far.ha.local_uri = Some(ConnectionString::new(&far_server.uri));
    let mut near = cfg.clone();
    near.ha.local_uri = Some(ConnectionString::new(&dep.uri));
    let dir = tempfile::tempdir().unwrap();
    let a = start_member(dir.path(), &far, "a");
    one_leader(&[&a], Duration::from_secs(60)).await;
    let traffic = Traffic::start(&db, seed(), TrafficPlan::new(20, Duration::from_millis(50)));
    let b = start_member(dir.path(), &near, "b");
    let c = start_member(dir.path(), &far, "c");
    let all = [&a, &b, &c];

    let start = Instant::now();
    let mut epoch = 0;
    loop {
        let l = leaders(&all).await;
        assert!(
            l.iter().filter(|v| **v == 1.0).count() <= 1,
            "two actives: {l:?}"
        );
        let e = checkpoint_epoch(&dep, &cfg).await;
        assert!(e >= epoch, "epoch went back: {epoch} -> {e}");
        epoch = e;
        if l == [0.0, 1.0, 0.0] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the active did not move next to the primary: leader = {l:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let changes = b.metric(names::LEADER_CHANGES_TOTAL).await;
    sample(&dep, &cfg, &all, Duration::from_secs(3 * LEASE_SECONDS)).await;
    assert_eq!(leaders(&all).await, [0.0, 1.0, 0.0], "b stays the active");
    assert_eq!(
        b.metric(names::LEADER_CHANGES_TOTAL).await,
        changes,
        "no flapping"
    );
    assert_eq!(status(&a).await["ha"]["holder"], "b");
    traffic.stop().await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
}
