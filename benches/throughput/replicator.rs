//! The replicator in-process (as the e2e tests run it) and a resident-memory sampler.

use mongo_replicator::cmd::{copy_job, run_job};
use mongo_replicator::config::{Config, ConnectionString, CopyMode};
use mongo_replicator::ops::status::Phase;
use mongo_replicator::ops::ProgressBars;
use mongo_replicator::ops::Service;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn config(source: &str, target: &str, target_db: &str, workers: usize) -> Config {
    let mut cfg = Config::default();
    cfg.source.uri = ConnectionString::new(source);
    cfg.source.database = "bench".into();
    cfg.target.uri = ConnectionString::new(target);
    cfg.target.database = target_db.into();
    cfg.checkpoint.database = format!("ckpt_{target_db}");
    cfg.apply.workers = workers;
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
    /// Peak RSS growth in MB over the RSS at the start.
    pub peak_rss_mb: f64,
    /// CPU seconds of this process (the in-process replicator; the bench's own polling every
    /// 5 ms is negligible) from the job's start until every event is applied.
    pub cpu_seconds: f64,
}

/// Restarts the job from its checkpoint and times the catch-up of `events` events.
pub async fn catch_up(cfg: &Config, events: u64) -> CatchUp {
    let sampler = RssSampler::start();
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
    let peak = sampler.stop();
    service.stop.cancel();
    job.await.expect("join").expect("catch-up run");
    CatchUp {
        events_per_s: rate,
        peak_rss_mb: peak,
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

/// Samples `VmRSS` every 20 ms on a thread of its own; reports the peak growth.
struct RssSampler {
    done: Arc<AtomicBool>,
    peak_kb: Arc<AtomicU64>,
    base_kb: u64,
    thread: std::thread::JoinHandle<()>,
}

pub fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

impl RssSampler {
    fn start() -> RssSampler {
        let done = Arc::new(AtomicBool::new(false));
        let base_kb = rss_kb();
        let peak_kb = Arc::new(AtomicU64::new(base_kb));
        let (d, p) = (done.clone(), peak_kb.clone());
        let thread = std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                p.fetch_max(rss_kb(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssSampler {
            done,
            peak_kb,
            base_kb,
            thread,
        }
    }

    fn stop(self) -> f64 {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (self.peak_kb.load(Ordering::Relaxed) - self.base_kb) as f64 / 1024.0
    }
}
