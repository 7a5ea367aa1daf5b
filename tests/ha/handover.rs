//! Three members under traffic: one leader at any sample, kill -9 of the active hands over
//! within two leases, the backup converges; a standby answers `/readyz` 200 saying `standby`.

use super::*;
use crate::support::workload::{Traffic, TrafficPlan};
use crate::support::{converge, seed};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_one_leader_and_kill9_of_the_active_hands_over_within_two_leases() {
    let (dep, cfg, db) = pair("ha_kill").await;
    let dir = tempfile::tempdir().unwrap();
    let mut members = start_members(dir.path(), &cfg);
    let traffic = Traffic::start(&db, seed(), TrafficPlan::new(20, Duration::from_millis(50)));
    let refs: Vec<&ReplicatorProcess> = members.iter().collect();
    let first = one_leader(&refs, Duration::from_secs(60)).await;
    let epoch = sample(&dep, &cfg, &refs, Duration::from_secs(3 * LEASE_SECONDS)).await;
    assert!(
        epoch >= 1,
        "the active claimed the checkpoint with its epoch"
    );

    // Standbys are ready (to take over) and say so; /status names the holder.
    for (i, m) in members.iter().enumerate().filter(|(i, _)| *i != first) {
        let (code, body) = m.get("/readyz").await.unwrap();
        assert_eq!(code, 200, "standby {i}: {body}");
        assert!(body.contains("standby"), "{body}");
        let s = status(m).await;
        assert_eq!(s["role"], "standby", "{s}");
        assert_eq!(s["ha"]["holder"], NAMES[first], "{s}");
    }
    assert_eq!(status(&members[first]).await["role"], "active");

    let killed_at = Instant::now();
    members[first].kill9();
    let rest: Vec<&ReplicatorProcess> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(_, m)| m)
        .collect();
    one_leader(&rest, Duration::from_secs(60)).await;
    let took = killed_at.elapsed();
    eprintln!("handover after kill -9: {took:?} (lease {LEASE_SECONDS} s)");
    assert!(
        took <= Duration::from_secs(2 * LEASE_SECONDS),
        "handover took {took:?}, more than two leases"
    );
    let after = sample(&dep, &cfg, &rest, Duration::from_secs(LEASE_SECONDS)).await;
    assert!(
        after > epoch,
        "the new active runs under a newer epoch ({epoch} -> {after})"
    );
    traffic.stop().await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
}

/// kill -9 of random members (each restarted) for a while under traffic: never two leaders,
/// the epoch only grows, and the backup ends identical with every acknowledged insert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill9_loop_of_random_members_converges_with_nothing_lost() {
    use rand::{Rng, SeedableRng};
    let (dep, cfg, db) = pair("ha_loop").await;
    let dir = tempfile::tempdir().unwrap();
    let mut members = start_members(dir.path(), &cfg);
    let mut plan = TrafficPlan::new(10, Duration::from_millis(50));
    plan.acked = true;
    let traffic = Traffic::start(&db, seed(), plan);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let until = Instant::now() + Duration::from_secs(crate::support::rounds(30, 60) as u64);
    let mut epoch = 0;
    while Instant::now() < until {
        let refs: Vec<&ReplicatorProcess> = members.iter().collect();
        let pause = Duration::from_millis(rng.gen_range(500..4000));
        epoch = epoch.max(sample(&dep, &cfg, &refs, pause).await);
        let victim = rng.gen_range(0..members.len());
        members[victim].kill9();
        members[victim] = start_member(dir.path(), &cfg, NAMES[victim]);
    }
    let refs: Vec<&ReplicatorProcess> = members.iter().collect();
    one_leader(&refs, Duration::from_secs(60)).await;
    let acked = traffic.stop().await;
    converge(&dep, &cfg, Duration::from_secs(180)).await;
    let backup = dep
        .db(&cfg.target.database)
        .collection::<bson::Document>("acked");
    let n = backup.count_documents(bson::doc! {}).await.unwrap();
    assert_eq!(
        n,
        acked.len() as u64,
        "every acknowledged insert reached the backup"
    );
    assert!(checkpoint_epoch(&dep, &cfg).await >= epoch);
}
