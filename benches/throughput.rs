//! Throughput and CPU figures of the replicator (in-process) against two testbed processes, in
//! one run, one `name=value` line each. Sizes: `BENCH_EVENTS` (backlog, default 200000),
//! `BENCH_NAIVE_EVENTS` (default 20000; 2000 through the 2 ms link), `BENCH_WORKERS` (default
//! "1,2,4,8"), `BENCH_VERIFY_DOCS` (verifier RSS, default 20000), `BENCH_ROUNDS` (interleaved
//! rounds of the headline figures, `throughput/rounds.rs`, default 3). `BENCH_ONLY=verify_rss`
//! runs only the verifier's RSS measurement; `BENCH_ONLY=cpu` only the CPU figures;
//! `BENCH_ONLY=far` only the figures at 0 and ~2 ms of round trip (`throughput/far.rs`);
//! `BENCH_ONLY=copy` only the copy figures. `BENCH_CPU_WORKERS` sets the writers of the
//! `BENCH_ONLY=cpu` catch-up (default `apply.workers`'s) and `BENCH_WRITES_IN_FLIGHT` its
//! `apply.writes_in_flight`; `BENCH_MAX_QUEUED_BYTES` sets `apply.max_queued_bytes` for every
//! catch-up; `BENCH_ROUND_WORKERS` the writers of the rounds' catch-ups. See README
//! "Performance".

#[path = "throughput/backlog.rs"]
mod backlog;
#[path = "throughput/bare.rs"]
mod bare;
#[path = "throughput/catch_up_rss.rs"]
mod catch_up_rss;
#[path = "throughput/child.rs"]
mod child;
#[path = "throughput/far.rs"]
mod far;
/// The tests' minimal HTTP client: here only `try_get` of `/status`.
#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;
/// The test support's fault proxy: here only its latency (`Fault::Delay`).
#[allow(dead_code)]
#[path = "../tests/support/proxy.rs"]
mod proxy;
#[path = "throughput/replicator.rs"]
mod replicator;
#[path = "throughput/rounds.rs"]
mod rounds;
#[path = "throughput/verify_rss.rs"]
mod verify_rss;

use backlog::rounds_for;
use mongodb::Client;
use std::time::Instant;

/// mimalloc: as in the `mongo-replicator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// As the `mongo-replicator` binary starts (src/main.rs): no transparent huge pages for this
/// process, unless `BENCH_THP=1` (to measure what that costs).
fn disable_transparent_huge_pages() {
    if std::env::var("BENCH_THP").as_deref() != Ok("1") {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

/// The writers of every catch-up that stands for the default (`apply.workers`'s default).
const WRITERS: usize = mongo_replicator::config::defaults::APPLY_WORKERS;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn figure(name: &str, value: f64) {
    println!("{name}={value:.2}");
}

/// CPU seconds (user + system) of this process so far, every thread, from `/proc/self/stat`
/// (fields 14 and 15, in USER_HZ = 100 ticks per second on Linux).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let ticks: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|t| t.parse().expect("stat ticks"))
        .collect();
    (ticks[0] + ticks[1]) as f64 / 100.0
}

#[tokio::main]
async fn main() {
    disable_transparent_huge_pages();
    let events = env_usize("BENCH_EVENTS", 200_000);
    let naive_events = env_usize("BENCH_NAIVE_EVENTS", 20_000);
    let workers: Vec<usize> = std::env::var("BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let started = Instant::now();
    let testbed_bin = testbed_binary();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("verify_rss") {
        verify_rss::run(&testbed_bin).await;
        figure("bench_seconds", started.elapsed().as_secs_f64());
        return;
    }
    // Source and target run as their own processes, so this process's RSS is the replicator's
    // (and the bare clients'), not the testbeds' data.
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
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cpu") {
        cpu_only(&source, &dst_client, events, &cfg).await;
        figure("bench_seconds", started.elapsed().as_secs_f64());
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("copy") {
        backlog::write(&source, 0..rounds).await;
        copy_figures(&source, &dst_client, &cfg("dst_copy", WRITERS)).await;
        figure("bench_seconds", started.elapsed().as_secs_f64());
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("far") {
        far::run(&source, (&src_uri, &dst_uri), events).await;
        figure("bench_seconds", started.elapsed().as_secs_f64());
        return;
    }
    // One checkpoint per default catch-up: each round's, and the three memory runs'.
    let round_count = env_usize("BENCH_ROUNDS", 3).max(1);
    let round_cfgs: Vec<_> = (0..round_count)
        .map(|r| {
            cfg(
                &format!("dst_round{r}"),
                env_usize("BENCH_ROUND_WORKERS", WRITERS),
            )
        })
        .collect();
    let rss_cfgs = ["dst_rss_half", "dst_rss_full", "dst_rss_double"].map(|db| cfg(db, WRITERS));
    for c in round_cfgs.iter().chain(&rss_cfgs) {
        replicator::prime(c).await;
    }
    for &w in &workers {
        replicator::prime(&cfg(&format!("dst_w{w}"), w)).await;
    }
    // Catch-up with the continuous verifier (on by default) and without it, default writers.
    let verify_cfg = |db: &str, on: bool| {
        let mut c = cfg(db, WRITERS);
        c.verify.continuous.enabled = on;
        c
    };
    replicator::prime(&verify_cfg("dst_vfy_on", true)).await;
    replicator::prime(&verify_cfg("dst_vfy_off", false)).await;
    // The same catch-up with `[history] enabled` (default writers), against the default run.
    let mut hist_cfg = cfg("dst_hist", WRITERS);
    hist_cfg.history.enabled = true;
    replicator::prime(&hist_cfg).await;
    // A backup 2 ms of round trip away: the proxy delays each direction by 1 ms.
    let target_addr = dst_uri["mongodb://".len()..dst_uri.find("/?").unwrap()]
        .parse()
        .unwrap();
    let link = proxy::Proxy::start(target_addr).await;
    link.set(proxy::Fault::Delay {
        one_way: std::time::Duration::from_millis(1),
    });
    let far_cfg = replicator::config(&src_uri, &link.uri(), "dst_far", WRITERS);
    replicator::prime(&far_cfg).await;
    let far_client = Client::with_uri_str(link.uri()).await.unwrap();
    // The round trip the link really adds (timer granularity makes it more than 2 ms).
    figure("link_rtt_ms", far::round_trip_ms(&far_client).await);
    let token = backlog::start_token(&source).await;

    // First half, then the half-size catch-up (for memory), then the rest and the full-size
    // one, each in a fresh replicator process; then an idle one, the memory both start from.
    let rss_dir = tempfile::tempdir().expect("tempdir");
    backlog::write(&source, 0..half_rounds).await;
    let rss_half = catch_up_rss::catch_up(rss_dir.path(), &rss_cfgs[0], half_events as u64).await;
    dst_client.database("dst_rss_half").drop().await.unwrap();
    backlog::write(&source, half_rounds..rounds).await;
    println!("backlog_events={total}");
    let rss_full = catch_up_rss::catch_up(rss_dir.path(), &rss_cfgs[1], total as u64).await;
    let rss_idle = catch_up_rss::idle(rss_dir.path(), &rss_cfgs[1]).await;
    dst_client.database("dst_rss_full").drop().await.unwrap();

    let mut measured = Vec::new();
    for (r, round_cfg) in round_cfgs.iter().enumerate() {
        let round = rounds::run(r, &source, &dst_client, (&token, rounds, total), round_cfg).await;
        for (name, value) in [
            ("ceiling_read_events_per_s", round.read_events_per_s),
            ("ceiling_write_ops_per_s", round.write_ops_per_s),
            ("bare_cpu_us_per_event", round.bare_cpu_us),
            ("replicator_cpu_us_per_event", round.tail_cpu_us),
            ("tail_events_per_s", round.tail.events_per_s),
            ("cpu_ratio_vs_bare", round.cpu_ratio()),
            ("efficiency", round.efficiency()),
        ] {
            figure(&format!("round{r}_{name}"), value);
        }
        measured.push(round);
    }
    let med = |f: &dyn Fn(&rounds::Round) -> f64| rounds::median(measured.iter().map(f).collect());
    let read = med(&|r| r.read_events_per_s);
    let write = med(&|r| r.write_ops_per_s);
    let tail_rate = med(&|r| r.tail.events_per_s);
    figure("ceiling_read_events_per_s", read);
    figure("ceiling_write_ops_per_s", write);
    figure("bare_events_per_s", med(&|r| r.bare_events_per_s));
    figure("bare_cpu_us_per_event", med(&|r| r.bare_cpu_us));

    let target = dst_client.database("dst_naive");
    let naive = bare::naive(&source, &target, token.clone(), naive_events.min(total)).await;
    target.drop().await.unwrap();
    figure("naive_events_per_s", naive);
    let far_naive_events = env_usize("BENCH_NAIVE_RTT_EVENTS", 2000).min(total);
    let target = far_client.database("dst_naive_far");
    let naive_far = bare::naive(&source, &target, token.clone(), far_naive_events).await;
    target.drop().await.unwrap();
    figure("naive_events_per_s_rtt2ms", naive_far);

    // The history run is compared with the sweep's default-writers run, the catch-up nearest
    // to it in time: later phases ran 0.7-1.0x the rounds' tails (round 12).
    let mut nearest_default = tail_rate;
    for &w in &workers {
        let db = format!("dst_w{w}");
        let run = replicator::catch_up(&cfg(&db, w), total as u64).await;
        dst_client.database(&db).drop().await.unwrap();
        figure(&format!("tail_events_per_s_w{w}"), run.events_per_s);
        if w == WRITERS {
            nearest_default = run.events_per_s;
        }
    }
    let mut verify_runs = Vec::new();
    for (db, on) in [("dst_vfy_off", false), ("dst_vfy_on", true)] {
        let run = replicator::catch_up(&verify_cfg(db, on), total as u64).await;
        dst_client.database(db).drop().await.unwrap();
        verify_runs.push(run.events_per_s);
    }
    figure("tail_events_per_s_verify_off", verify_runs[0]);
    figure("tail_events_per_s_verify_on", verify_runs[1]);
    figure("verify_on_vs_off", verify_runs[1] / verify_runs[0]);
    let hist = replicator::catch_up(&hist_cfg, total as u64).await;
    dst_client.database("dst_hist").drop().await.unwrap();
    dst_client.database("ckpt_dst_hist").drop().await.unwrap();
    figure("tail_events_per_s_history", hist.events_per_s);
    figure("history_on_vs_off", hist.events_per_s / nearest_default);
    figure("replicator_cpu_us_per_event", med(&|r| r.tail_cpu_us));
    figure("cpu_ratio_vs_bare", med(&|r| r.cpu_ratio()));
    figure("tail_events_per_s", tail_rate);
    figure("efficiency", med(&|r| r.efficiency()));
    // The same from the medians of its parts: the write ceiling and the tail did not move
    // together between rounds, so this one filters each part's noise on its own.
    figure("efficiency_of_medians", tail_rate / read.min(write));
    figure("speedup_vs_naive_rtt0", tail_rate / naive);
    let far = replicator::catch_up(&far_cfg, total as u64).await;
    far_client.database("dst_far").drop().await.unwrap();
    figure("tail_events_per_s_rtt2ms", far.events_per_s);
    figure("speedup_vs_naive_rtt2ms", far.events_per_s / naive_far);
    figure(&format!("peak_rss_mb_{}k", half_events / 1000), rss_half);
    figure(&format!("peak_rss_mb_{}k", total / 1000), rss_full);
    figure("peak_rss_mb_idle", rss_idle);

    copy_figures(&source, &dst_client, &cfg("dst_copy", WRITERS)).await;
    // The backlog doubled once more (after the copy, which copies what the other phases saw):
    // below `apply.max_queued_bytes` of queued events the peak follows the backlog by design,
    // so flatness is this doubling's, above that bound.
    let (double_rounds, double_total) = rounds_for(2 * total);
    backlog::write(&source, rounds..double_rounds).await;
    let rss_double =
        catch_up_rss::catch_up(rss_dir.path(), &rss_cfgs[2], double_total as u64).await;
    dst_client.database("dst_rss_double").drop().await.unwrap();
    figure(&format!("peak_rss_mb_{}k", double_total / 1000), rss_double);
    figure("peak_rss_ratio_2x", rss_double / rss_full);
    figure(
        "peak_rss_growth_ratio_2x",
        (rss_double - rss_idle) / (rss_full - rss_idle),
    );
    verify_rss::run(&testbed_bin).await;
    figure("bench_seconds", started.elapsed().as_secs_f64());
}

/// The replicator's copy of the source database between two of the bare client's: whichever
/// copy ran first after the tail phases ran slowest (the testbeds were still busy), so the
/// bare figure is the mean of the runs before and after.
async fn copy_figures(
    source: &mongodb::Database,
    dst_client: &Client,
    cfg: &mongo_replicator::config::Config,
) {
    let colls: Vec<String> = (0..backlog::COLLECTIONS).map(backlog::coll_name).collect();
    let bare_target = dst_client.database("dst_copy_bare");
    let (bdocs, _, before) = bare::copy(source, &bare_target, &colls).await;
    bare_target.drop().await.unwrap();
    let (docs, bytes, secs) = replicator::copy(cfg).await;
    dst_client
        .database(&cfg.target.database)
        .drop()
        .await
        .unwrap();
    let (_, _, after) = bare::copy(source, &bare_target, &colls).await;
    bare_target.drop().await.unwrap();
    assert_eq!(docs, bdocs, "both copies see the same documents");
    let bsecs = (before + after) / 2.0;
    figure("copy_docs_per_s", docs as f64 / secs);
    figure("copy_mb_per_s", bytes as f64 / 1e6 / secs);
    figure("copy_bare_docs_per_s_before", bdocs as f64 / before);
    figure("copy_bare_docs_per_s_after", bdocs as f64 / after);
    figure("copy_bare_docs_per_s", bdocs as f64 / bsecs);
    figure("copy_efficiency", bsecs / secs);
}

/// `BENCH_ONLY=cpu`: the CPU figures alone (the bare client, then the default catch-up, on one
/// backlog of `BENCH_EVENTS`), for quick before/after pairs and profiles.
async fn cpu_only(
    source: &mongodb::Database,
    dst_client: &Client,
    events: usize,
    cfg: &dyn Fn(&str, usize) -> mongo_replicator::config::Config,
) {
    let (rounds, total) = rounds_for(events);
    let run_cfg =
        replicator::in_flight_from_env(cfg("dst_cpu", env_usize("BENCH_CPU_WORKERS", WRITERS)));
    replicator::prime(&run_cfg).await;
    let token = backlog::start_token(source).await;
    backlog::write(source, 0..rounds).await;
    println!("backlog_events={total}");
    let target = dst_client.database("dst_pipe");
    eprintln!("bare client starts (pid {})", std::process::id());
    let (_, bare_cpu) = bare::pipeline(source, &target, token, total).await;
    target.drop().await.unwrap();
    let bare_us = bare_cpu * 1e6 / total as f64;
    figure("bare_cpu_us_per_event", bare_us);
    eprintln!("catch-up starts (pid {})", std::process::id());
    let run = replicator::catch_up(&run_cfg, total as u64).await;
    let cpu_us = run.cpu_seconds * 1e6 / total as f64;
    figure("replicator_cpu_us_per_event", cpu_us);
    figure("cpu_ratio_vs_bare", cpu_us / bare_us);
    figure("tail_events_per_s", run.events_per_s);
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
