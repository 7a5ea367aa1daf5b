//! Throughput figures of the replicator against in-process testbeds, in one run, one
//! `name=value` line each. Sizes: `BENCH_EVENTS` (backlog, default 200000), `BENCH_NAIVE_EVENTS`
//! (default 20000), `BENCH_WORKERS` (default "1,2,4,8"). See README "Performance".

#[path = "throughput/backlog.rs"]
mod backlog;
#[path = "throughput/bare.rs"]
mod bare;
#[path = "throughput/replicator.rs"]
mod replicator;

use backlog::{rounds_for, step, steps, Form};
use mongodb::Client;
use std::time::Instant;

/// mimalloc: as in the `mongo-replicator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn figure(name: &str, value: f64) {
    println!("{name}={value:.2}");
}

#[tokio::main]
async fn main() {
    let events = env_usize("BENCH_EVENTS", 200_000);
    let naive_events = env_usize("BENCH_NAIVE_EVENTS", 20_000);
    let workers: Vec<usize> = std::env::var("BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let started = Instant::now();
    // Source and target run as their own processes, so this process's RSS is the replicator's
    // (and the bare clients'), not the testbeds' data.
    let testbed_bin = testbed_binary();
    let (_source_process, src_uri) = spawn_testbed(&testbed_bin);
    let (_target_process, dst_uri) = spawn_testbed(&testbed_bin);
    let src_client = Client::with_uri_str(&src_uri).await.unwrap();
    let dst_client = Client::with_uri_str(&dst_uri).await.unwrap();
    let source = src_client.database("bench");
    for c in 0..backlog::COLLECTIONS {
        source
            .create_collection(backlog::coll_name(c))
            .await
            .unwrap();
    }

    // Checkpoints before the backlog: one per catch-up run, and a bare resume token.
    let (half_rounds, half_events) = rounds_for(events / 2);
    let (rounds, total) = rounds_for(events);
    let cfg = |db: &str, w: usize| replicator::config(&src_uri, &dst_uri, db, w);
    let half_cfg = cfg("dst_half", 4);
    replicator::prime(&half_cfg).await;
    for &w in &workers {
        replicator::prime(&cfg(&format!("dst_w{w}"), w)).await;
    }
    let token = {
        let stream = source.watch().await.unwrap();
        stream.resume_token().expect("token")
    };

    // First half, then the half-size catch-up (for memory), then the rest.
    for (r, c) in steps(0..half_rounds) {
        for cmd in step(r, c, Form::Source) {
            source.run_command(cmd).await.unwrap();
        }
    }
    let (_, rss_half) = replicator::catch_up(&half_cfg, half_events as u64).await;
    dst_client.database("dst_half").drop().await.unwrap();
    for (r, c) in steps(half_rounds..rounds) {
        for cmd in step(r, c, Form::Source) {
            source.run_command(cmd).await.unwrap();
        }
    }
    println!("backlog_events={total}");

    let read = bare::read_ceiling(&source, token.clone(), total).await;
    figure("ceiling_read_events_per_s", read);
    let target = dst_client.database("dst_bare");
    let write = bare::write_ceiling(
        &target,
        steps(0..rounds).flat_map(|(r, c)| step(r, c, Form::Target)),
    )
    .await;
    target.drop().await.unwrap();
    figure("ceiling_write_ops_per_s", write);
    let target = dst_client.database("dst_naive");
    let naive = bare::naive(&source, &target, token, naive_events.min(total)).await;
    target.drop().await.unwrap();
    figure("naive_events_per_s", naive);

    let mut tail = None;
    let mut rss_full = 0.0;
    for &w in &workers {
        let db = format!("dst_w{w}");
        let (rate, rss) = replicator::catch_up(&cfg(&db, w), total as u64).await;
        dst_client.database(&db).drop().await.unwrap();
        figure(&format!("tail_events_per_s_w{w}"), rate);
        if w == 4 || tail.is_none() {
            tail = Some(rate);
            rss_full = rss;
        }
    }
    let tail = tail.expect("at least one worker count");
    figure("tail_events_per_s", tail);
    figure("efficiency", tail / read.min(write));
    // Source, target and replicator share this machine's cores: reading and writing an event
    // cost CPU one after the other, so the pipeline's CPU-bound ceiling is the serial one.
    let serial = 1.0 / (1.0 / read + 1.0 / write);
    figure("ceiling_serial_events_per_s", serial);
    figure("efficiency_vs_serial_ceiling", tail / serial);
    figure("speedup_vs_naive", tail / naive);
    figure(&format!("peak_rss_mb_{}k", half_events / 1000), rss_half);
    figure(&format!("peak_rss_mb_{}k", total / 1000), rss_full);

    let colls: Vec<String> = (0..backlog::COLLECTIONS).map(backlog::coll_name).collect();
    let (docs, bytes, secs) = replicator::copy(&cfg("dst_copy", 4)).await;
    dst_client.database("dst_copy").drop().await.unwrap();
    let (bdocs, _, bsecs) =
        bare::copy(&source, &dst_client.database("dst_copy_bare"), &colls).await;
    assert_eq!(docs, bdocs, "both copies see the same documents");
    figure("copy_docs_per_s", docs as f64 / secs);
    figure("copy_mb_per_s", bytes as f64 / 1e6 / secs);
    figure("copy_bare_docs_per_s", bdocs as f64 / bsecs);
    figure("copy_efficiency", bsecs / secs);
    figure("bench_seconds", started.elapsed().as_secs_f64());
}

/// The release `mongo-testbed` binary (`BENCH_TESTBED_BIN`, or built here with cargo).
fn testbed_binary() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("BENCH_TESTBED_BIN") {
        return p.into();
    }
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "mongo-testbed",
                "--bin",
                "mongo-testbed",
            ])
            .status()
            .expect("cargo build mongo-testbed");
    assert!(status.success(), "building mongo-testbed failed");
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    std::path::Path::new(&dir).join("release/mongo-testbed")
}

/// Starts a testbed process on a free port; killed when the guard drops.
fn spawn_testbed(bin: &std::path::Path) -> (TestbedProcess, String) {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(bin)
        .args(["--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mongo-testbed");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("listening"),
        "mongo-testbed did not start: {line}"
    );
    (
        TestbedProcess(child),
        format!("mongodb://127.0.0.1:{port}/?replicaSet=rs0"),
    )
}

struct TestbedProcess(std::process::Child);

impl Drop for TestbedProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
