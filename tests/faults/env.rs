//! A bad environment, through the binary (scenario 9 of docs/RELIABILITY.md): an unreachable
//! source keeps the process alive, retrying, not ready, and stoppable; a source that is not a
//! replica set, a malformed URI and a target user that cannot authenticate are configuration
//! errors (exit 2, one line naming the key); a target that answers writes with Unauthorized
//! (13) is reported and stops the run instead of spinning.

use crate::support::procs::{cpu_seconds, ReplicatorProcess};
use crate::support::{
    config, converge_between, db_names, run_binary, skip_on_real_server, two_deployments,
    wait_until, write_config, Deployment, Needs,
};
use bson::{doc, Document};
use mongo_replicator::config::ConnectionString;
use mongo_replicator::ops::metrics::names;
use mongo_testbed::TestbedOptions;
use std::time::{Duration, Instant};

/// Runs `run --config` on `cfg` to completion: `(exit code, stderr)`.
fn run_to_exit(cfg: &mongo_replicator::config::Config) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), cfg);
    let (code, _, stderr) = run_binary(
        &["run", "--config", path.to_str().unwrap()],
        &[("RUST_LOG", "warn")],
    );
    (code, stderr)
}

/// The one line a configuration error ends with (`mongo-replicator: ...`).
fn final_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("mongo-replicator:"))
        .unwrap_or_else(|| panic!("no `mongo-replicator:` line in:\n{stderr}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_source_retries_quietly_is_not_ready_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // A short server selection: many attempts within the watch, so throttling is visible.
    let nowhere = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300";
    let mut cfg = config(nowhere, "src_unreach", "dst_unreach");
    cfg.target.uri = ConnectionString::new(nowhere);
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("the HTTP server", Duration::from_secs(10), || async {
        p.get("/healthz").await.is_some()
    })
    .await;
    let watch = Duration::from_secs(8);
    let start = Instant::now();
    let cpu_before = cpu_seconds(p.child.id()).unwrap();
    while start.elapsed() < watch {
        let health = p.get("/healthz").await.map(|r| r.0);
        let ready = p.get("/readyz").await.map(|r| r.0);
        assert_eq!(
            health,
            Some(200),
            "/healthz while the source is unreachable"
        );
        assert_eq!(ready, Some(503), "/readyz while the source is unreachable");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cpu = cpu_seconds(p.child.id()).unwrap() - cpu_before;
    assert!(
        cpu < 2.0,
        "{cpu:.2} CPU s in {watch:?} while waiting: spinning"
    );
    let log = p.log_text();
    assert!(!log.contains("panicked"), "panic:\n{log}");
    let retries = p.metric(names::RETRIES_TOTAL).await;
    let lines = log.matches("failed, retrying").count();
    assert!(retries >= 3.0, "only {retries} attempts in {watch:?}");
    assert!(lines >= 1, "nothing logged about the unreachable source");
    assert!(
        lines <= 2,
        "{lines} retry lines for {retries} retries in {watch:?}: not throttled:\n{log}"
    );
    assert!(
        log.contains("source") || log.contains("127.0.0.1:1"),
        "the log does not say what is unreachable:\n{log}"
    );
    let t0 = Instant::now();
    let log_path = p.log.clone();
    let code = p.terminate(Duration::from_secs(10)).await;
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    eprintln!(
        "{lines} log lines / {retries} retries in {watch:?}, {cpu:.2} CPU s, SIGTERM exit {code:?} after {:?}\n{log}",
        t0.elapsed()
    );
    assert_eq!(code, Some(0), "SIGTERM must exit 0 within 10 s:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_source_is_a_configuration_error_naming_the_key() {
    skip_on_real_server!(Needs::Standalone);
    let dep = Deployment::start_with(TestbedOptions {
        standalone: true,
        ..Default::default()
    })
    .await;
    let (src, dst) = db_names("standalone");
    let target = Deployment::start().await;
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.target.uri = ConnectionString::new(&target.uri);
    let (code, stderr) = tokio::task::spawn_blocking(move || run_to_exit(&cfg))
        .await
        .unwrap();
    assert_eq!(code, 2, "{stderr}");
    let line = final_line(&stderr);
    assert!(
        line.contains("source.uri") && line.contains("replica set"),
        "the message must name source.uri and the replica set: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_uris_exit_2_naming_the_key() {
    for (key, bad) in [
        ("source.uri", "mongodb://127.0.0.1:notaport/"),
        ("target.uri", "mongodb:/missing-slash"),
    ] {
        let mut cfg = config("mongodb://127.0.0.1:1/", "src_baduri", "dst_baduri");
        if key == "source.uri" {
            cfg.source.uri = ConnectionString::new(bad);
        } else {
            cfg.target.uri = ConnectionString::new(bad);
        }
        let (code, stderr) = tokio::task::spawn_blocking(move || run_to_exit(&cfg))
            .await
            .unwrap();
        assert_eq!(code, 2, "{key}: {stderr}");
        assert!(final_line(&stderr).contains(key), "{key}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_user_that_cannot_authenticate_exits_2() {
    skip_on_real_server!(Needs::ScramUsers);
    let source = Deployment::start().await;
    let target = Deployment::start_with(TestbedOptions {
        users: vec![("backup".into(), "right-password".into())],
        ..Default::default()
    })
    .await;
    let (src, dst) = db_names("authfail");
    source
        .db(&src)
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    let addr = target.testbed_addr();
    let mut cfg = config(&source.uri, &src, &dst);
    cfg.target.uri = ConnectionString::new(format!(
        "mongodb://backup:wrong-password@{addr}/?replicaSet=rs0&authSource=admin"
    ));
    let (code, stderr) = tokio::task::spawn_blocking(move || run_to_exit(&cfg))
        .await
        .unwrap();
    assert_eq!(code, 2, "{stderr}");
    let line = final_line(&stderr);
    assert!(line.contains("target"), "{line}");
    assert!(
        !stderr.contains("wrong-password"),
        "password leaked: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_target_writes_are_reported_and_not_spun_on() {
    skip_on_real_server!(Needs::FailPoints);
    let (source, target, mut cfg) = two_deployments("unauth").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    cfg.log.level = "warn".into();
    let orders = source.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    converge_between(
        &cfg,
        &source.db(&src),
        &target.db(&dst),
        Duration::from_secs(30),
    )
    .await;

    // Every write of the replicator to the target now fails as a user without the role would.
    target
        .db("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": {"failCommands": ["insert", "update", "delete"], "appName": "mongo-replicator", "errorCode": 13}
        })
        .await
        .unwrap();
    orders.insert_one(doc! {"_id": 1}).await.unwrap();
    let pid = p.child.id();
    let cpu_before = cpu_seconds(pid).unwrap_or(0.0);
    let start = Instant::now();
    let mut exit = None;
    while start.elapsed() < Duration::from_secs(15) {
        if let Some(status) = p.child.try_wait().unwrap() {
            exit = Some(status.code());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = p.log_text();
    target
        .db("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap();
    let exit = exit.unwrap_or_else(|| {
        let cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
        p.kill9();
        panic!("still running after 15 s of Unauthorized ({cpu:.2} CPU s):\n{log}")
    });
    eprintln!("exit {exit:?} after {:?}\n{log}", start.elapsed());
    assert_eq!(exit, Some(3), "a fatal target error exits 3:\n{log}");
    assert!(
        log.contains("Unauthorized") || log.contains("(13)") || log.contains("code 13"),
        "the log does not name the error:\n{log}"
    );
    let retries = log.matches("retrying").count();
    assert!(
        retries <= 2,
        "{retries} retries of a never-retried code:\n{log}"
    );
    let backed_up = target
        .db(&dst)
        .collection::<Document>("orders")
        .count_documents(doc! {"_id": 1})
        .await
        .unwrap();
    assert_eq!(backed_up, 0, "the refused write cannot be on the target");
}
