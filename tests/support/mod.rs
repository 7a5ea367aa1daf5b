//! The one support module of the integration tests: a source/target deployment (the embedded
//! testbed, or a real replica set from `MONGODB_URI`) and the decision which tests skip on a
//! real one, the replicator in-process (here) and as a process ([`procs`]), the HTTP client and
//! metric readers ([`http`]), a seeded random workload and background traffic ([`workload`]),
//! the fault proxy ([`proxy`]), fault-scenario helpers ([`faults`]), and wait helpers with
//! timeouts. Each test reads as the scenario it proves.

pub mod faults;
pub mod http;
pub mod procs;
pub mod proxy;
pub mod webdriver;
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

/// The real replica set named by `MONGODB_URI`, when set (and not empty).
pub fn real_server_uri() -> Option<String> {
    std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty())
}

/// What a test needs that only the embedded testbed gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Needs {
    /// Stopping the source server under the replicator (a real replica set is not ours to stop).
    ServerStop,
    /// The TCP fault proxy in front of each side (a replica set's members are found through
    /// `hello` and the driver would go around the proxy).
    FaultProxy,
    /// SCRAM users created with the deployment (the testbed's `users` option).
    ScramUsers,
    /// A source whose oplog holds only a few hundred entries.
    TinyOplog,
    /// A standalone (not replica set) server.
    Standalone,
    /// `failCommand` fail points on a server of the test's own: a fail point is server-wide and
    /// aimed at the `mongo-replicator` app name, so on a shared replica set it would hit the
    /// replicators of every test running in parallel (and mongod has `configureFailPoint` only
    /// with `enableTestCommands`).
    FailPoints,
    /// A source replica set of a name of the test's own.
    NamedReplicaSet,
    /// Two replica sets (of the same name).
    TwoReplicaSets,
}

impl Needs {
    fn what(self) -> &'static str {
        match self {
            Needs::ServerStop => "to stop the source server",
            Needs::FaultProxy => "the fault proxy in front of the testbed",
            Needs::ScramUsers => "SCRAM users made on the testbed",
            Needs::TinyOplog => "a testbed with a tiny oplog",
            Needs::Standalone => "a standalone testbed",
            Needs::FailPoints => "fail points on a server of its own",
            Needs::NamedReplicaSet => "a testbed with a replica set name of its own",
            Needs::TwoReplicaSets => "two replica sets of the same name",
        }
    }
}

/// Whether `test` must skip because it needs what only the testbed gives: true (after printing
/// `skipped: <test>: needs <what> (MONGODB_URI is set)`) with `MONGODB_URI` set, always false
/// on the testbed.
pub fn must_skip_on_real_server(test: &str, needs: Needs) -> bool {
    if real_server_uri().is_none() {
        return false;
    }
    eprintln!(
        "skipped: {test}: needs {} (MONGODB_URI is set)",
        needs.what()
    );
    true
}

/// The preamble of a test that needs testbed-only control: returns from the test (after the
/// printed reason of [`must_skip_on_real_server`], naming the test) when it must skip.
macro_rules! skip_on_real_server {
    ($needs:expr) => {
        if $crate::support::must_skip_on_real_server($crate::support::test_name!(), $needs) {
            return;
        }
    };
}
pub(crate) use skip_on_real_server;

/// The path of the enclosing test function below the crate (`faults::network::resets_...`).
macro_rules! test_name {
    () => {{
        fn f() {}
        let path = std::any::type_name_of_val(&f);
        let path = path.strip_suffix("::f").unwrap_or(path);
        // An async test's body is a closure: `...::name::{{closure}}`.
        let path = path.trim_end_matches("::{{closure}}");
        path.split_once("::").map_or(path, |(_crate, rest)| rest)
    }};
}
pub(crate) use test_name;

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
        let (uri, testbed) = match real_server_uri() {
            Some(uri) => (uri, None),
            None => {
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

    /// Documents in `db.coll` now.
    pub async fn count(&self, db: &str, coll: &str) -> u64 {
        self.db(db)
            .collection::<bson::Document>(coll)
            .count_documents(bson::doc! {})
            .await
            .unwrap()
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
    // The continuous verifier (on by default) repairs what tests damage on purpose and costs
    // CPU: off here, on in tests/verify.
    cfg.verify.continuous.enabled = false;
    cfg
}

/// Source and target on two deployments (both the replica set of `MONGODB_URI` when set) and
/// a configuration from `src_<tag>...` on the first to `dst_<tag>...` on the second.
pub async fn two_deployments(tag: &str) -> (Deployment, Deployment, Config) {
    let (source, target) = (Deployment::start().await, Deployment::start().await);
    let (src, dst) = db_names(tag);
    let mut cfg = config(&source.uri, &src, &dst);
    cfg.target.uri = ConnectionString::new(&target.uri);
    (source, target, cfg)
}

pub fn with_mode(mut cfg: Config, mode: UpdateMode) -> Config {
    cfg.apply.update_mode = mode;
    cfg
}

/// The replicator running in this process, with its HTTP server on a free port.
pub struct Replicator {
    pub stop: CancellationToken,
    pub reporter: Reporter,
    pub position: Arc<Position>,
    pub http: std::net::SocketAddr,
    pub job: tokio::task::JoinHandle<mongo_replicator::error::Result<()>>,
}

impl Replicator {
    pub async fn start(cfg: &Config) -> Replicator {
        let service = Service::start(cfg).await.expect("start service");
        let (reporter, position, stop) = (
            service.reporter.clone(),
            service.position.clone(),
            service.stop.clone(),
        );
        let job = {
            let (cfg, t, p, s) = (
                cfg.clone(),
                reporter.clone(),
                position.clone(),
                stop.clone(),
            );
            tokio::spawn(async move { run_job(&cfg, &t, p, s, &ProgressBars::new(true)).await })
        };
        Replicator {
            stop,
            reporter,
            position,
            http: service.http_addr.expect("run serves HTTP"),
            job,
        }
    }

    /// `GET path` on the replicator's HTTP server: `(status code, body)`.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http::get(self.http, path).await
    }

    /// The value of one series of `/metrics` (`name` or `name{labels}`), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        http::metric_value(&body, series)
    }

    /// Waits for the end of the initial copy (phase `tailing`).
    pub async fn tailing(&self, limit: Duration) {
        wait_until("tailing", limit, || async { self.phase() == "tailing" }).await;
    }

    pub fn phase(&self) -> String {
        self.reporter.status.to_json()["phase"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits for tailing with nothing pending and no new events for a moment.
    pub async fn caught_up(&self, limit: Duration) {
        let start = Instant::now();
        let mut quiet: Option<Instant> = None;
        let mut last = self.position.received();
        while start.elapsed() < limit {
            assert!(!self.job.is_finished(), "replicator stopped early");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = self.position.received();
            if self.phase() == "tailing" && self.position.pending() == 0 && r == last {
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
            self.position.pending()
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
    assert_identical_between(
        cfg,
        &dep.db(&cfg.source.database),
        &dep.db(&cfg.target.database),
    )
    .await;
}

/// [`assert_identical`] for a source and a target on different deployments.
pub async fn assert_identical_between(cfg: &Config, source: &Database, target: &Database) {
    let report = verify_databases(cfg, source, target).await.expect("verify");
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

/// The lock over this process's environment. All tests share one process: the config tests set
/// `REPLICATOR_*` variables while holding it, and every spawn of the replicator binary holds it
/// so that no child inherits another test's variables.
pub fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Spawns the replicator binary as `cmd` describes, under [`env_lock`].
pub fn spawn_replicator(cmd: &mut std::process::Command) -> std::process::Child {
    let _env = env_lock();
    cmd.spawn().expect("spawn mongo-replicator")
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
    spawn_replicator(&mut cmd)
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
    converge_between(
        cfg,
        &dep.db(&cfg.source.database),
        &dep.db(&cfg.target.database),
        limit,
    )
    .await;
}

/// Polls verify between two databases (of any deployments) until identical, else panics with
/// the last report.
pub async fn converge_between(cfg: &Config, source: &Database, target: &Database, limit: Duration) {
    let start = Instant::now();
    loop {
        match verify_databases(cfg, source, target).await {
            Ok(r) if r.identical() && !r.collections.is_empty() => return,
            Ok(r) if start.elapsed() > limit => panic!("did not converge within {limit:?}:\n{r}"),
            Err(e) if start.elapsed() > limit => panic!("verify failed: {e}"),
            _ => {}
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

/// Creates an index on `keys` (unique or not) on `db.coll`.
pub async fn create_index(db: &Database, coll: &str, keys: bson::Document, unique: bool) {
    let model = mongodb::IndexModel::builder()
        .keys(keys)
        .options(
            mongodb::options::IndexOptions::builder()
                .unique(unique)
                .build(),
        )
        .build();
    db.collection::<bson::Document>(coll)
        .create_index(model)
        .await
        .expect("create index");
}

/// True under `LONG_TESTS=1`.
pub fn long() -> bool {
    std::env::var("LONG_TESTS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `short` in CI, `long_form` under `LONG_TESTS=1`: round counts and durations.
pub fn rounds(short: usize, long_form: usize) -> usize {
    if long() {
        long_form
    } else {
        short
    }
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

/// Every document of `db.coll`, in `_id` order.
pub async fn documents(db: &Database, coll: &str) -> Vec<bson::Document> {
    documents_as(db, coll).await
}

/// Every document of `db.coll` as `T` (e.g. `RawDocumentBuf` for a byte-for-byte
/// snapshot), in `_id` order.
pub async fn documents_as<T>(db: &Database, coll: &str) -> Vec<T>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    use futures::TryStreamExt;
    db.collection::<T>(coll)
        .find(bson::doc! {})
        .sort(bson::doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// The index names of `db.coll`, sorted.
pub async fn index_names(db: &Database, coll: &str) -> Vec<String> {
    let mut names = db
        .collection::<bson::Document>(coll)
        .list_index_names()
        .await
        .unwrap();
    names.sort();
    names
}

/// `failCommand` on `dep`'s server for the replicator's connections: `commands` fail with
/// `code` until [`fail_commands_off`] (testbed only: `Needs::FailPoints`).
pub async fn fail_commands(dep: &Deployment, commands: &[&str], code: i32) {
    dep.client
        .database("admin")
        .run_command(bson::doc! {
            "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": {"failCommands": commands, "appName": "mongo-replicator", "errorCode": code}
        })
        .await
        .unwrap();
}

pub async fn fail_commands_off(dep: &Deployment) {
    dep.client
        .database("admin")
        .run_command(bson::doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap();
}

/// Every document of `coll`, in natural order.
pub async fn all_documents(coll: &mongodb::Collection<bson::Document>) -> Vec<bson::Document> {
    use futures::TryStreamExt;
    coll.find(bson::doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}
