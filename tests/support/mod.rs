//! Shared end-to-end test support: a source/target deployment (the embedded testbed, or a real
//! replica set from `MONGODB_URI`), the replicator in-process or as a binary, a seeded random
//! workload, and wait helpers with timeouts. Each test reads as the scenario it proves.
#![allow(dead_code)]

pub mod faults;
pub mod procs;
pub mod proxy;
pub mod workload;

use mongo_replicator::bulk::verify::{verify_databases, VerifyReport};
use mongo_replicator::cmd::run::run_job;
use mongo_replicator::config::{Config, ConnectionString, UpdateMode};
use mongo_replicator::ops::ProgressBars;
use mongo_replicator::ops::Reporter;
use mongo_replicator::ops::Service;
use mongo_replicator::state::Position;
use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::{Client, Database};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A deployment to replicate within: the testbed, unless `MONGODB_URI` names a real replica set.
pub struct Deployment {
    pub uri: String,
    pub testbed: Option<Testbed>,
    pub client: Client,
}

impl Deployment {
    pub async fn start() -> Deployment {
        Self::start_with(TestbedOptions::default()).await
    }

    pub async fn start_with(opts: TestbedOptions) -> Deployment {
        let (uri, testbed) = match std::env::var("MONGODB_URI") {
            Ok(uri) if !uri.is_empty() => (uri, None),
            _ => {
                let tb = Testbed::start(opts).await.expect("start testbed");
                (tb.uri(), Some(tb))
            }
        };
        let client = Client::with_uri_str(&uri).await.expect("client");
        Deployment {
            uri,
            testbed,
            client,
        }
    }

    pub fn db(&self, name: &str) -> Database {
        self.client.database(name)
    }

    /// The embedded testbed's address (fault-injection tests run on the testbed only).
    pub fn testbed_addr(&self) -> std::net::SocketAddr {
        self.testbed
            .as_ref()
            .expect("this test needs the embedded testbed")
            .addr()
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Distinct database names per test (so a shared real server is not polluted across tests).
pub fn db_names(tag: &str) -> (String, String) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let p = std::process::id();
    (format!("src_{tag}_{p}_{n}"), format!("dst_{tag}_{p}_{n}"))
}

/// A configuration for `source_db` -> `target_db` on `uri`, fast timings for tests.
pub fn config(uri: &str, source_db: &str, target_db: &str) -> Config {
    let mut cfg = Config::default();
    cfg.source.uri = ConnectionString::new(uri);
    cfg.source.database = source_db.to_string();
    cfg.target.uri = ConnectionString::new(uri);
    cfg.target.database = target_db.to_string();
    cfg.checkpoint.database = format!("ckpt_{target_db}");
    cfg.checkpoint.interval_ms = 200;
    cfg.apply.max_batch_delay_ms = 10;
    cfg.http.addr = "127.0.0.1:0".parse().unwrap();
    cfg
}

pub fn with_mode(mut cfg: Config, mode: UpdateMode) -> Config {
    cfg.apply.update_mode = mode;
    cfg
}

/// The replicator running in this process, with its HTTP server on a free port.
pub struct Replicator {
    pub stop: CancellationToken,
    pub telemetry: Reporter,
    pub progress: Arc<Position>,
    pub http: std::net::SocketAddr,
    pub job: tokio::task::JoinHandle<mongo_replicator::error::Result<()>>,
}

impl Replicator {
    pub async fn start(cfg: &Config) -> Replicator {
        let service = Service::start(cfg).await.expect("start service");
        let (telemetry, progress, stop) = (
            service.reporter.clone(),
            service.position.clone(),
            service.stop.clone(),
        );
        let job = {
            let (cfg, t, p, s) = (
                cfg.clone(),
                telemetry.clone(),
                progress.clone(),
                stop.clone(),
            );
            tokio::spawn(async move { run_job(&cfg, &t, p, s, &ProgressBars::new(true)).await })
        };
        Replicator {
            stop,
            telemetry,
            progress,
            http: service.http_addr.expect("run serves HTTP"),
            job,
        }
    }

    /// `GET path` on the replicator's HTTP server: `(status code, body)`.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path).await
    }

    /// The value of one sample line of `/metrics` (`name{labels}`), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        metric_value(&body, series)
    }

    pub fn phase(&self) -> String {
        self.telemetry.status.to_json()["phase"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits for tailing with nothing pending and no new events for a moment.
    pub async fn caught_up(&self, limit: Duration) {
        let start = Instant::now();
        let mut quiet: Option<Instant> = None;
        let mut last = self.progress.received();
        while start.elapsed() < limit {
            assert!(!self.job.is_finished(), "replicator stopped early");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = self.progress.received();
            if self.phase() == "tailing" && self.progress.pending() == 0 && r == last {
                if quiet.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(1200) {
                    return;
                }
            } else {
                quiet = None;
            }
            last = r;
        }
        panic!(
            "replicator did not catch up within {limit:?} (phase {}, pending {})",
            self.phase(),
            self.progress.pending()
        );
    }

    pub async fn shutdown(self) -> mongo_replicator::error::Result<()> {
        self.stop.cancel();
        self.job.await.expect("join")
    }
}

/// Polls `cond` every 50 ms until true or panics after `limit` naming `what`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

pub async fn verify(dep: &Deployment, cfg: &Config) -> VerifyReport {
    verify_databases(
        cfg,
        &dep.db(&cfg.source.database),
        &dep.db(&cfg.target.database),
    )
    .await
    .expect("verify")
}

/// Asserts the target is identical to the source, printing the report otherwise.
pub async fn assert_identical(dep: &Deployment, cfg: &Config) {
    let report = verify(dep, cfg).await;
    assert!(report.identical(), "target differs from source:\n{report}");
    assert!(!report.collections.is_empty(), "nothing was compared");
}

/// The replicator binary built by cargo for integration tests.
pub fn replicator_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mongo-replicator"))
}

/// The seed for randomized tests: `TEST_SEED` or time-based, printed so a failure reproduces.
pub fn seed() -> u64 {
    let seed = std::env::var("TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                % 1_000_000
        });
    eprintln!("TEST_SEED={seed}");
    seed
}

/// Writes `cfg` as a TOML file for the binary.
pub fn write_config(dir: &std::path::Path, cfg: &Config) -> PathBuf {
    let path = dir.join("replicator.toml");
    std::fs::write(&path, toml::to_string(cfg).expect("config to toml")).expect("write config");
    path
}

/// Starts the replicator binary with `args`, stdout/stderr captured.
pub fn spawn_binary(args: &[&str], envs: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(replicator_bin());
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn mongo-replicator")
}

/// Runs the binary to completion: `(exit code, stdout, stderr)`.
pub fn run_binary(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = spawn_binary(args, envs).wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `verify` until identical (the source must be quiet) or panics with the last report.
pub async fn converge(dep: &Deployment, cfg: &Config, limit: Duration) {
    let start = Instant::now();
    loop {
        let report = verify(dep, cfg).await;
        if report.identical() && !report.collections.is_empty() {
            return;
        }
        if start.elapsed() > limit {
            panic!("did not converge within {limit:?}:\n{report}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Sends SIGTERM and waits up to `limit` for the exit code.
pub fn terminate(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    unsafe_kill(child.id() as i32, 15);
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

fn unsafe_kill(pid: i32, sig: i32) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// A minimal HTTP/1.1 GET over TCP.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect http");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// The value of a series in Prometheus text (exact `name{labels}` match).
pub fn metric_value(body: &str, series: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.rsplit_once(' ')
                .filter(|(k, _)| *k == series)
                .and_then(|(_, v)| v.parse().ok())
        })
        .unwrap_or(0.0)
}

/// Creates a unique ascending index on `field`.
pub async fn create_unique_index(coll: &mongodb::Collection<bson::Document>, field: &str) {
    let model = mongodb::IndexModel::builder()
        .keys(bson::doc! {field: 1})
        .options(
            mongodb::options::IndexOptions::builder()
                .unique(true)
                .build(),
        )
        .build();
    coll.create_index(model).await.expect("create unique index");
}

/// `renameCollection` `db.from` -> `db.to` on the source deployment.
pub async fn rename_collection(
    dep: &Deployment,
    db: &str,
    from: &str,
    to: &str,
    drop_target: bool,
) {
    dep.client
        .database("admin")
        .run_command(bson::doc! {"renameCollection": format!("{db}.{from}"), "to": format!("{db}.{to}"), "dropTarget": drop_target})
        .await
        .unwrap();
}

/// One run of the replicator until it has caught up, then a graceful stop (clean checkpoint).
pub async fn replicate_once(cfg: &Config) {
    let r = Replicator::start(cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    r.shutdown().await.unwrap();
}
