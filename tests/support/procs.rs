//! Processes the tests start and kill: the `mongo-testbed` binary with a `--dbpath` (so data
//! and oplog survive a `kill -9` and a restart on the same port) and the replicator binary
//! running `run`, plus helpers to sample a process's memory and CPU time and to pick a free
//! port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `mongo-testbed` binary next to the replicator binary, built once per test process
/// (a no-op when it is up to date).
pub fn testbed_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let replicator = super::replicator_bin();
        let profile_dir = replicator.parent().expect("profile dir").to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "-q",
            "-p",
            "mongo-testbed",
            "--bin",
            "mongo-testbed",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build for mongo-testbed");
        assert!(status.success(), "building mongo-testbed failed");
        profile_dir.join("mongo-testbed")
    })
    .clone()
}

/// A free loopback port (bound and released; fine for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mongo-testbed --dbpath DIR --port PORT` as a child process that tests may `kill -9`.
pub struct TestbedProcess {
    pub port: u16,
    pub dbpath: PathBuf,
    oplog_max_entries: Option<usize>,
    child: Option<Child>,
}

impl TestbedProcess {
    /// Starts on a free port with its data in `dbpath`.
    pub fn start(dbpath: &Path) -> TestbedProcess {
        Self::start_with(dbpath, None)
    }

    pub fn start_with(dbpath: &Path, oplog_max_entries: Option<usize>) -> TestbedProcess {
        let mut tb = TestbedProcess {
            port: free_port(),
            dbpath: dbpath.to_path_buf(),
            oplog_max_entries,
            child: None,
        };
        tb.restart();
        tb
    }

    /// The replica-set connection string (the testbed advertises `127.0.0.1:PORT`).
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?replicaSet=rs0", self.port)
    }

    /// `kill -9`: no flush, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port and data directory; waits for the listening line.
    pub fn restart(&mut self) {
        self.kill9();
        let start = Instant::now();
        loop {
            let mut cmd = Command::new(testbed_bin());
            cmd.arg("--port")
                .arg(self.port.to_string())
                .arg("--dbpath")
                .arg(&self.dbpath)
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if let Some(n) = self.oplog_max_entries {
                cmd.arg("--oplog-max-entries").arg(n.to_string());
            }
            let mut child = cmd.spawn().expect("spawn mongo-testbed");
            let mut line = String::new();
            let out = child.stdout.take().unwrap();
            let _ = BufReader::new(out).read_line(&mut line);
            if line.contains("listening") {
                self.child = Some(child);
                return;
            }
            // The port may still be held by the killed process's sockets for a moment.
            let _ = child.wait();
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "mongo-testbed did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for TestbedProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Resident memory of a process in KiB (Linux `/proc`), `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds (user + system) a process has used so far (`/proc/<pid>/stat` fields 14 and
/// 15, at 11 and 12 after the `)`), `None` once it is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some((f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?) / 100.0)
}

/// The replicator binary with `run --config PATH` and its HTTP server on a known port.
/// Its stderr goes to a file (never a pipe nobody reads, which would block it).
pub struct ReplicatorProcess {
    pub child: Child,
    pub http: SocketAddr,
    pub log: PathBuf,
}

impl ReplicatorProcess {
    /// Writes `cfg` (HTTP on a free port) into `dir` and starts `run`.
    pub fn run(dir: &Path, cfg: &mongo_replicator::config::Config) -> ReplicatorProcess {
        Self::start(dir, cfg, "run")
    }

    /// Writes `cfg` (HTTP on a free port) into `dir` and starts `command` (`run`, `sync`).
    pub fn start(
        dir: &Path,
        cfg: &mongo_replicator::config::Config,
        command: &str,
    ) -> ReplicatorProcess {
        let mut cfg = cfg.clone();
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        cfg.http.addr = http;
        let path = super::write_config(dir, &cfg);
        let log = dir.join("replicator.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open log");
        let child = super::spawn_replicator(
            Command::new(super::replicator_bin())
                .args([command, "--config", path.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(file),
        );
        ReplicatorProcess { child, http, log }
    }

    /// Everything it logged so far (all runs in this directory).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`: `(status code, body)`, `None` while nothing listens.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        super::http::try_get(self.http, path)
            .await
            .ok()
            .map(|r| (r.code, r.body))
    }

    /// The value of one series of `/metrics`, 0 when absent or while nothing listens.
    pub async fn metric(&self, series: &str) -> f64 {
        match self.get("/metrics").await {
            Some((_, body)) => super::http::metric_value(&body, series),
            None => 0.0,
        }
    }

    /// Waits until a unique conflict is counted (`errors_total{kind="conflict"}`), then
    /// returns `/status` as JSON: what an operator sees about it.
    pub async fn status_after_conflict(&self) -> serde_json::Value {
        let conflicts = super::http::series(
            mongo_replicator::ops::metrics::names::ERRORS_TOTAL,
            "kind",
            "conflict",
        );
        super::wait_until(
            "errors_total{kind=conflict}",
            std::time::Duration::from_secs(30),
            || async { self.metric(&conflicts).await >= 1.0 },
        )
        .await;
        let (_, status) = self.get("/status").await.unwrap();
        serde_json::from_str(&status).unwrap()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit code (None when it did not exit within `limit`).
    pub async fn terminate(mut self, limit: Duration) -> Option<i32> {
        tokio::task::spawn_blocking(move || super::terminate(&mut self.child, limit))
            .await
            .unwrap()
    }
}

/// A failing test must not leave a replicator running (it would eat the CPU of every test
/// after it), and its log is the first thing to read, so the end of it is printed.
impl Drop for ReplicatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
