//! Network faults (scenario 4 of docs/RELIABILITY.md): the replicator reaches each side through
//! a fault proxy that resets connections mid-stream, resets them after N bytes (torn replies in
//! the middle of a batch), stalls reads, blackholes, and throttles to a slow link, on the source
//! side and on the target side, while the source keeps changing. Ends identical and settled.

use crate::support::faults;
use crate::support::proxy::{Fault, Proxy};
use crate::support::workload::{Traffic, TrafficPlan, Workload};
use crate::support::{
    config, converge_between, db_names, rounds, seed, skip_on_real_server, Deployment, Needs,
    Replicator,
};
use mongo_replicator::config::ConnectionString;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// One fault for a while, chosen by the seed; returns its name for the log.
async fn inject(proxy: &Proxy, rng: &mut impl Rng) -> &'static str {
    let (name, fault) = match rng.gen_range(0..5) {
        0 => {
            proxy.reset_all();
            return "reset all";
        }
        1 => ("reset after 32 KiB", Fault::ResetAfter { bytes: 32 << 10 }),
        2 => ("stall", Fault::Stall),
        3 => ("blackhole", Fault::Blackhole),
        _ => (
            "slow 64 KiB/s",
            Fault::Slow {
                bytes_per_sec: 64 << 10,
            },
        ),
    };
    proxy.set(fault);
    tokio::time::sleep(Duration::from_millis(rng.gen_range(1000..3000))).await;
    proxy.set(Fault::Pass);
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_stalls_blackholes_and_slow_links_on_both_sides_converge() {
    skip_on_real_server!(Needs::FaultProxy);
    let source = Deployment::start().await;
    let target = Deployment::start().await;
    let (src, dst) = db_names("net");
    let source_proxy = Proxy::start(source.testbed_addr()).await;
    let target_proxy = Proxy::start(target.testbed_addr()).await;
    let mut cfg = config(&source_proxy.uri(), &src, &dst);
    cfg.target.uri = ConnectionString::new(target_proxy.uri());
    cfg.copy.batch_size = 300;
    let s = seed();
    let db = source.db(&src);
    // Big documents so replies span many packets and a byte-count reset tears a batch.
    let big: Vec<bson::Document> = (0..3000)
        .map(|i| bson::doc! {"_id": i, "pad": "x".repeat(1000)})
        .collect();
    db.collection::<bson::Document>("big")
        .insert_many(big)
        .await
        .unwrap();
    Workload::new(s).run(&db, 200).await;
    let r = Replicator::start(&cfg).await;

    let traffic = Traffic::start(&db, s, TrafficPlan::new(20, Duration::from_millis(20)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    for round in 0..rounds(3, 30) {
        let what = inject(&source_proxy, &mut rng).await;
        eprintln!("round {round}: source side {what}");
        let what = inject(&target_proxy, &mut rng).await;
        eprintln!("round {round}: target side {what}");
    }
    traffic.stop().await;
    if r.job.is_finished() {
        panic!("replicator stopped: {:?}", r.job.await.unwrap());
    }
    converge_between(&cfg, &db, &target.db(&dst), Duration::from_secs(120)).await;
    faults::settle(&r).await;
    r.shutdown().await.unwrap();
}
