//! The `mongo-replicator` binary as a child process of the bench, against the bench's testbeds:
//! what `/proc/<pid>/status` then reads is the replicator's memory alone (not the testbeds',
//! not this process's, whose allocator still holds what earlier phases used).

use crate::http;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any one phase (copy, sweep, catch-up) may take on a loaded machine.
const PHASE_LIMIT: Duration = Duration::from_secs(1200);

/// The replicator binary running `run` with `cfg`, its HTTP server on a free port.
pub struct Replicator {
    pub child: Child,
    http: std::net::SocketAddr,
    log: std::path::PathBuf,
}

impl Replicator {
    pub fn start(dir: &Path, cfg: &mongo_replicator::config::Config, name: &str) -> Replicator {
        let mut cfg = cfg.clone();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        cfg.http.addr = ([127, 0, 0, 1], port).into();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&cfg).expect("config to toml")).unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_mongo-replicator"))
            .args(["run", "--config", path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn mongo-replicator");
        Replicator {
            child,
            http: cfg.http.addr,
            log,
        }
    }

    /// Polls `/status` until `done` holds for it.
    pub async fn wait(&self, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
        let started = Instant::now();
        loop {
            if let Ok(reply) = http::try_get(self.http, "/status").await {
                if let Ok(status) = serde_json::from_str(&reply.body) {
                    if done(&status) {
                        return;
                    }
                }
            }
            let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
            assert!(
                started.elapsed() < PHASE_LIMIT,
                "{what}: too slow\n{}",
                log()
            );
            assert!(
                status_kib(self.child.id(), "VmRSS:").is_some(),
                "{what}: replicator exited\n{}",
                log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM (the checkpoint is saved on the way out), then waits for the exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `/proc/<pid>/status` field in KiB (`VmHWM:` peak, `VmRSS:` current); `None` once the
/// process is gone (a zombie has no `VmRSS` line either).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
