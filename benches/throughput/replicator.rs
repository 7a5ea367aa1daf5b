//! The replicator in-process, as the e2e tests run it (its memory is measured in a child
//! process instead: `catch_up_rss.rs`).

use mongo_replicator::cmd::{copy_job, run_job};
use mongo_replicator::config::{Config, ConnectionString, CopyMode};
use mongo_replicator::ops::status::Phase;
use mongo_replicator::ops::ProgressBars;
use mongo_replicator::ops::Service;
use std::time::{Duration, Instant};

pub fn config(source: &str, target: &str, target_db: &str, workers: usize) -> Config {
    let mut cfg = Config::default();
    cfg.source.uri = ConnectionString::new(source);
    cfg.source.database = "bench".into();
    cfg.target.uri = ConnectionString::new(target);
    cfg.target.database = target_db.into();
    cfg.checkpoint.database = format!("ckpt_{target_db}");
    cfg.apply.workers = workers;
    if let Some(bytes) = std::env::var("BENCH_MAX_QUEUED_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.apply.max_queued_bytes = bytes;
    }
    cfg.http.addr = "127.0.0.1:0".parse().unwrap();
    cfg
}

/// `cfg` with `apply.writes_in_flight` from `BENCH_WRITES_IN_FLIGHT` when that is set, through
/// serde so the bench also builds against a parent without the key (leave it unset there).
pub fn in_flight_from_env(cfg: Config) -> Config {
    let Some(n) = std::env::var("BENCH_WRITES_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return cfg;
    };
    let mut v = serde_json::to_value(&cfg).expect("config to json");
    v["apply"]["writes_in_flight"] = n.into();
    serde_json::from_value(v).expect("this build has apply.writes_in_flight")
}

/// Runs the job on the (still empty) source until it tails, then stops it: the checkpoint now
/// sits before any backlog written next.
pub async fn prime(cfg: &Config) {
    let service = Service::start(cfg).await.expect("service");
    let (t, p, s) = (
        service.reporter.clone(),
        service.position.clone(),
        service.stop.clone(),
    );
    let job = {
        let (cfg, t, s) = (cfg.clone(), t.clone(), s.clone());
        tokio::spawn(async move { run_job(&cfg, &t, p, s, &ProgressBars::new(true)).await })
    };
    while t.status.phase() != Phase::Tailing {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.cancel();
    job.await.expect("join").expect("prime run");
}

/// What one catch-up measured.
pub struct CatchUp {
    pub events_per_s: f64,
    /// CPU seconds of this process (the in-process replicator; the bench's own polling every
    /// 5 ms is negligible) from the job's start until every event is applied.
    pub cpu_seconds: f64,
}

/// Restarts the job from its checkpoint and times the catch-up of `events` events.
pub async fn catch_up(cfg: &Config, events: u64) -> CatchUp {
    let cpu = crate::cpu_seconds();
    let service = Service::start(cfg).await.expect("service");
    let (t, p, s) = (
        service.reporter.clone(),
        service.position.clone(),
        service.stop.clone(),
    );
    let started = Instant::now();
    let job = {
        let (cfg, p) = (cfg.clone(), p.clone());
        tokio::spawn(async move { run_job(&cfg, &t, p, s, &ProgressBars::new(true)).await })
    };
    let limit = Duration::from_secs(600);
    while p.applied() < events || p.pending() > 0 {
        assert!(!job.is_finished(), "replicator stopped early");
        assert!(started.elapsed() < limit, "catch-up too slow");
        if std::env::var("BENCH_DEBUG").is_ok() && started.elapsed().as_millis() % 1000 < 6 {
            eprintln!(
                "received={} applied={} pending={}",
                p.received(),
                p.applied(),
                p.pending()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let cpu_seconds = crate::cpu_seconds() - cpu;
    service.stop.cancel();
    job.await.expect("join").expect("catch-up run");
    CatchUp {
        events_per_s: rate,
        cpu_seconds,
    }
}

/// `copy` job timing: (docs, bytes, seconds).
pub async fn copy(cfg: &Config) -> (u64, u64, f64) {
    let mut cfg = cfg.clone();
    cfg.copy.mode = CopyMode::Always;
    let service = Service::start(&cfg).await.expect("service");
    let started = Instant::now();
    let summaries = copy_job(&cfg, &service.reporter, &ProgressBars::new(true))
        .await
        .expect("copy");
    let secs = started.elapsed().as_secs_f64();
    let docs = summaries.iter().map(|s| s.documents).sum();
    let bytes = summaries.iter().map(|s| s.bytes).sum();
    (docs, bytes, secs)
}
