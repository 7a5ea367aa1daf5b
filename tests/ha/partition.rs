//! The active cut off from the target (fault proxy) stops applying before its lease can have
//! expired, a standby takes over, the old active rejoins as standby; renewals blocked on the
//! target (`failCommand` `blockConnection`) never make two actives.

use super::*;
use crate::support::proxy::{Fault, Proxy};
use crate::support::workload::{Traffic, TrafficPlan};
use crate::support::{converge, seed, skip_on_real_server, Needs};
use mongo_replicator::config::ConnectionString;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_cut_off_from_the_target_stops_before_its_lease_and_rejoins_as_standby() {
    skip_on_real_server!(Needs::FaultProxy);
    let (dep, cfg, db) = pair("ha_cut").await;
    let proxy = Proxy::start(dep.testbed_addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut via_proxy = cfg.clone();
    via_proxy.target.uri = ConnectionString::new(proxy.uri());
    let a = start_member(dir.path(), &via_proxy, "a");
    one_leader(&[&a], Duration::from_secs(60)).await;
    let (b, c) = (
        start_member(dir.path(), &cfg, "b"),
        start_member(dir.path(), &cfg, "c"),
    );
    let traffic = Traffic::start(&db, seed(), TrafficPlan::new(20, Duration::from_millis(50)));
    let all = [&a, &b, &c];
    let epoch = sample(&dep, &cfg, &all, Duration::from_secs(LEASE_SECONDS)).await;
    assert_eq!(leaders(&all).await[0], 1.0, "a stays the active");

    proxy.set(Fault::Blackhole);
    let cut = Instant::now();
    let (mut a_stopped, mut taken_over) = (None, None);
    while taken_over.is_none() && cut.elapsed() < Duration::from_secs(120) {
        let l = leaders(&all).await;
        assert!(
            l.iter().filter(|v| **v == 1.0).count() <= 1,
            "two actives: {l:?}"
        );
        if l[0] == 0.0 && a_stopped.is_none() {
            a_stopped = Some(cut.elapsed());
        }
        if l[1] == 1.0 || l[2] == 1.0 {
            taken_over = Some(cut.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a_stopped = a_stopped.expect("the cut-off active stopped applying");
    let taken_over = taken_over.expect("a standby took over");
    eprintln!("cut off: a stopped after {a_stopped:?}, a standby took over after {taken_over:?} (lease {LEASE_SECONDS} s)");
    assert!(
        a_stopped <= taken_over,
        "a stopped at {a_stopped:?}, after the takeover at {taken_over:?}"
    );
    assert!(
        a_stopped < Duration::from_secs(LEASE_SECONDS),
        "a stopped {a_stopped:?} after the cut, not before its lease could expire"
    );

    proxy.set(Fault::Pass);
    crate::support::wait_until("a rejoins as standby", Duration::from_secs(60), || async {
        let s = status(&a).await;
        s["role"] == "standby"
            && s["ha"]["holder"] != "a"
            && s["ha"]["epoch"].as_i64() > Some(epoch)
    })
    .await;
    let later = sample(&dep, &cfg, &all, Duration::from_secs(2 * LEASE_SECONDS)).await;
    assert!(
        later > epoch,
        "the new active claimed the checkpoint: {epoch} -> {later}"
    );
    assert_eq!(leaders(&all).await[0], 0.0, "a stays standby");
    traffic.stop().await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_blocked_on_the_target_never_make_two_actives() {
    skip_on_real_server!(Needs::FailPoints);
    let (dep, cfg, db) = pair("ha_block").await;
    let dir = tempfile::tempdir().unwrap();
    let members = start_members(dir.path(), &cfg);
    let all: Vec<&ReplicatorProcess> = members.iter().collect();
    one_leader(&all, Duration::from_secs(60)).await;
    let traffic = Traffic::start(&db, seed(), TrafficPlan::new(20, Duration::from_millis(50)));
    let before = sample(&dep, &cfg, &all, Duration::from_secs(LEASE_SECONDS)).await;
    // Every lease attempt now hangs for more than a lease before it is answered.
    let block = i64::try_from(2 * LEASE_SECONDS * 1000).unwrap();
    dep.client
        .database("admin")
        .run_command(bson::doc! {
            "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": {"failCommands": ["findAndModify"], "appName": "mongo-replicator",
                     "blockConnection": true, "blockTimeMS": block}
        })
        .await
        .unwrap();
    let during = sample(&dep, &cfg, &all, Duration::from_secs(4 * LEASE_SECONDS)).await;
    crate::support::wait_until(
        "the blocked active fenced itself",
        Duration::from_secs(60),
        || async { leaders(&all).await.iter().all(|v| *v == 0.0) },
    )
    .await;
    crate::support::fail_commands_off(&dep).await;
    one_leader(&all, Duration::from_secs(60)).await;
    let after = sample(&dep, &cfg, &all, Duration::from_secs(2 * LEASE_SECONDS)).await;
    assert!(
        before <= during && during <= after,
        "epochs {before} {during} {after}"
    );
    traffic.stop().await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
}
