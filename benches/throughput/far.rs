//! `BENCH_ONLY=far`: the far-link figures alone, for before/after pairs of the writing side:
//! the naive replicator and the default catch-up, each at 0 and at ~2 ms of round trip to the
//! target (the fault proxy's `Fault::Delay`, 1 ms each way), on one backlog of `BENCH_EVENTS`.
//! `BENCH_FAR_WORKERS` sets the writers of both catch-ups (default: `apply.workers`'s);
//! `BENCH_WRITES_IN_FLIGHT` sets `apply.writes_in_flight` for both catch-ups (only on a build
//! that has the key; without it the build's default holds).

use crate::backlog::{self, rounds_for};
use crate::{bare, figure, proxy, replicator};
use bson::doc;
use mongodb::{Client, Database};
use std::time::{Duration, Instant};

pub async fn run(source: &Database, (src_uri, dst_uri): (&str, &str), events: usize) {
    let (rounds, total) = rounds_for(events);
    let writers = crate::env_usize("BENCH_FAR_WORKERS", crate::WRITERS);
    let near_cfg =
        replicator::in_flight_from_env(replicator::config(src_uri, dst_uri, "dst_near", writers));
    replicator::prime(&near_cfg).await;
    let target_addr = dst_uri["mongodb://".len()..dst_uri.find("/?").unwrap()]
        .parse()
        .unwrap();
    let link = proxy::Proxy::start(target_addr).await;
    link.set(proxy::Fault::Delay {
        one_way: Duration::from_millis(1),
    });
    let far_cfg = replicator::in_flight_from_env(replicator::config(
        src_uri,
        &link.uri(),
        "dst_far",
        writers,
    ));
    replicator::prime(&far_cfg).await;
    let near_client = Client::with_uri_str(dst_uri).await.unwrap();
    let far_client = Client::with_uri_str(link.uri()).await.unwrap();
    figure("link_rtt_ms", round_trip_ms(&far_client).await);
    let token = backlog::start_token(source).await;
    backlog::write(source, 0..rounds).await;
    println!("backlog_events={total}");
    let naive_events = crate::env_usize("BENCH_NAIVE_EVENTS", 20_000).min(total);
    let target = near_client.database("dst_naive");
    let naive = bare::naive(source, &target, token.clone(), naive_events).await;
    target.drop().await.unwrap();
    figure("naive_events_per_s", naive);
    let far_naive_events = crate::env_usize("BENCH_NAIVE_RTT_EVENTS", 2000).min(total);
    let target = far_client.database("dst_naive_far");
    let naive_far = bare::naive(source, &target, token, far_naive_events).await;
    target.drop().await.unwrap();
    figure("naive_events_per_s_rtt2ms", naive_far);
    let near = replicator::catch_up(&near_cfg, total as u64).await;
    near_client.database("dst_near").drop().await.unwrap();
    figure("tail_events_per_s", near.events_per_s);
    figure("speedup_vs_naive_rtt0", near.events_per_s / naive);
    let far = replicator::catch_up(&far_cfg, total as u64).await;
    far_client.database("dst_far").drop().await.unwrap();
    figure("tail_events_per_s_rtt2ms", far.events_per_s);
    figure("speedup_vs_naive_rtt2ms", far.events_per_s / naive_far);
    figure("rtt2ms_vs_rtt0", far.events_per_s / near.events_per_s);
}

/// The round trip the link really adds (timer granularity makes it more than 2 ms).
pub async fn round_trip_ms(client: &Client) -> f64 {
    let admin = client.database("admin");
    admin.run_command(doc! {"ping": 1}).await.unwrap();
    let pinged = Instant::now();
    for _ in 0..50 {
        admin.run_command(doc! {"ping": 1}).await.unwrap();
    }
    pinged.elapsed().as_secs_f64() * 1e3 / 50.0
}
