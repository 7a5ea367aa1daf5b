//! The continuous verifier's memory as a collection grows 10x (issue 13, "Cost"): its sweeps
//! walk `_id` ranges, so its RSS should stay flat. The replicator runs as the real binary in a
//! child process (`child.rs`), against testbeds of their own.
//!
//! Per size: a first `run` with the verifier off makes the initial copy and stops at tailing;
//! a second `run` on that checkpoint (no copy, an idle tail) has `[verify.continuous]` on at
//! the highest rate and is read when `/status` shows its first full sweep. Its `VmHWM` (peak
//! RSS since it started) is then the sweep's cost plus the idle process, nothing else.
//! `BENCH_VERIFY_DOCS` sets N (default 20000 documents of ~1 KiB; 10N are swept second).

use crate::child::{status_kib, Replicator};
use bson::doc;
use mongodb::Client;
use std::path::Path;
use std::time::Instant;

const COLLECTION: &str = "docs";

/// Prints `verify_rss_mb_<N>`, `verify_rss_mb_<10N>` and `verify_rss_ratio_10x`.
pub async fn run(testbed_bin: &Path) {
    let n = crate::env_usize("BENCH_VERIFY_DOCS", 20_000);
    let (_source_process, src_uri) = crate::spawn_testbed(testbed_bin);
    let (_target_process, dst_uri) = crate::spawn_testbed(testbed_bin);
    let source = Client::with_uri_str(&src_uri)
        .await
        .unwrap()
        .database("bench");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut figures = Vec::new();
    let mut filled = 0;
    for size in [n, 10 * n] {
        fill(&source, filled, size).await;
        filled = size;
        let label = label(size);
        let cfg = crate::replicator::config(&src_uri, &dst_uri, &format!("vrss_{label}"), 4);
        let run_dir = dir.path().join(&label);
        std::fs::create_dir_all(&run_dir).unwrap();
        let (mb, secs) = measure(&run_dir, cfg).await;
        crate::figure(&format!("verify_rss_mb_{label}"), mb);
        crate::figure(&format!("verify_sweep_seconds_{label}"), secs);
        figures.push(mb);
    }
    crate::figure("verify_rss_ratio_10x", figures[1] / figures[0]);
}

/// `20k`, `200k`, or the plain count below a thousand.
fn label(size: usize) -> String {
    if size >= 1000 && size.is_multiple_of(1000) {
        format!("{}k", size / 1000)
    } else {
        size.to_string()
    }
}

/// Inserts documents `from..to` (~1 KiB each) into the source collection.
async fn fill(source: &mongodb::Database, from: usize, to: usize) {
    let coll = source.collection::<bson::Document>(COLLECTION);
    let ids: Vec<i64> = (from as i64..to as i64).collect();
    for chunk in ids.chunks(1000) {
        let docs = chunk.iter().map(|&id| {
            doc! {
                "_id": id,
                "name": format!("customer-{id}"),
                "status": "new",
                "address": {"city": "Lyon", "zip": "69001"},
                "pad": "x".repeat(900),
            }
        });
        coll.insert_many(docs).await.unwrap();
    }
}

/// The copy (verifier off), then the sweep: (peak RSS in MB of the sweeping process, seconds
/// until its first full sweep).
async fn measure(dir: &Path, mut cfg: mongo_replicator::config::Config) -> (f64, f64) {
    cfg.verify.continuous.enabled = false;
    let copier = Replicator::start(dir, &cfg, "copy");
    copier
        .wait("initial copy", |s| s["phase"] == "tailing")
        .await;
    copier.stop();
    cfg.verify.continuous.enabled = true;
    cfg.verify.continuous.docs_per_second = 1_000_000;
    let sweeper = Replicator::start(dir, &cfg, "sweep");
    let started = Instant::now();
    sweeper
        .wait("first full sweep", |s| {
            s["verify"]["last_full_sweep"].is_string()
        })
        .await;
    let secs = started.elapsed().as_secs_f64();
    let kib = status_kib(sweeper.child.id(), "VmHWM:").expect("replicator alive");
    sweeper.stop();
    (kib as f64 / 1024.0, secs)
}
