//! A checkpoint file the replicator cannot use is a configuration error: the binary exits 2 at
//! once naming the path (or what is wrong with it), never retries forever, never rewrites it.

use crate::support::{config, db_names, must_skip_on_real_server, spawn_binary, write_config};
use crate::support::{Deployment, Needs};
use bson::doc;
use mongo_replicator::config::CheckpointStoreKind;
use mongo_testbed::TestbedOptions;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs `run` over a file checkpoint at `checkpoint` against `dep`: `(exit code, stderr)`, or
/// panics when it is still running after 30 s (an error retried forever).
pub(super) fn run_with_checkpoint(
    dep: &Deployment,
    dir: &Path,
    checkpoint: &Path,
) -> (i32, String) {
    let (src, dst) = db_names("ckfile");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(checkpoint.to_path_buf());
    let cfg_path = write_config(dir, &cfg);
    let mut child = spawn_binary(&["run", "--config", cfg_path.to_str().unwrap()], &[]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            return (out.status.code().unwrap_or(-1), err);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "still running after 30 s (retried forever?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(super) fn write_bson(path: &Path, d: bson::Document) {
    let mut bytes = Vec::new();
    d.to_writer(&mut bytes).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `run` over the checkpoint path `prepare` returns (given a fresh directory) exits 2 naming it.
async fn assert_exit_2_naming_the_path(prepare: impl FnOnce(&Path) -> std::path::PathBuf) {
    let dep = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = prepare(dir.path());
    let (code, err) = run_with_checkpoint(&dep, dir.path(), &path);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains(path.to_str().unwrap()),
        "path not named: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_checkpoint_file_is_exit_2_naming_it() {
    assert_exit_2_naming_the_path(|dir| {
        let path = dir.join("cp.bson");
        std::fs::write(&path, b"not bson at all").unwrap();
        path
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_checkpoint_path_is_exit_2_naming_it() {
    assert_exit_2_naming_the_path(|dir| {
        // A regular file where the directory should be: unwritable even for root.
        std::fs::write(dir.join("not_a_dir"), b"").unwrap();
        dir.join("not_a_dir").join("cp.bson")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_of_a_newer_schema_version_is_refused_and_kept() {
    let dep = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp.bson");
    write_bson(
        &path,
        doc! {"schema_version": 99, "resume_token": {"_data": "00"}, "copying": false, "future": 1},
    );
    let before = std::fs::read(&path).unwrap();
    let (code, err) = run_with_checkpoint(&dep, dir.path(), &path);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("schema version 99"),
        "version not named: {err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the checkpoint was rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_of_another_source_replica_set_is_refused() {
    if must_skip_on_real_server(
        "a_checkpoint_of_another_source_replica_set_is_refused",
        Needs::NamedReplicaSet,
    ) {
        return;
    }
    let dep = Deployment::start_with(TestbedOptions {
        replset: "rs_other".into(),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp.bson");
    write_bson(
        &path,
        doc! {"schema_version": 2, "source": {"set_name": "rs0"}, "resume_token": {"_data": "00"}, "copying": false},
    );
    let (code, err) = run_with_checkpoint(&dep, dir.path(), &path);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("\"rs0\"")
            && err.contains("\"rs_other\"")
            && err.contains("delete the checkpoint"),
        "no clear refusal: {err}"
    );
}

/// The checkpoint's directory replaced by a regular file while tailing (unwritable even for
/// root, unlike a chmod): the next save cannot succeed, so the run stops with exit 2 naming the
/// path instead of retrying forever behind a healthy `/healthz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_place_that_becomes_unwritable_while_tailing_stops_the_run_naming_it() {
    use crate::support::procs::ReplicatorProcess;
    let dep = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let place = dir.path().join("state");
    std::fs::create_dir(&place).unwrap();
    let path = place.join("cp.bson");
    let (src, dst) = db_names("ckgone");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(path.clone());
    cfg.checkpoint.interval_ms = 200;
    // The collection exists before the place breaks: only inserts follow, no DDL (whose
    // barrier saves at once), so the periodic save alone meets the broken place.
    let coll = dep.db(&src).collection::<bson::Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut proc = ReplicatorProcess::run(dir.path(), &cfg);
    crate::support::wait_until(
        "tailing with a checkpoint",
        Duration::from_secs(30),
        || async {
            let status = proc.get("/status").await.map(|(_, body)| body);
            status.is_some_and(|b| b.contains("\"tailing\"")) && path.exists()
        },
    )
    .await;
    std::fs::remove_dir_all(&place).unwrap();
    std::fs::write(&place, b"").unwrap();
    let start = Instant::now();
    let mut n = 0;
    let code = loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            break status.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running 30 s after the checkpoint place broke (retried forever?): {}",
            proc.log_text()
        );
        // Events move the watermark, so every tick tries a save.
        n += 1;
        coll.insert_one(doc! {"_id": n}).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = proc.log_text();
    assert_eq!(code, Some(2), "log: {log}");
    assert!(
        log.contains(place.to_str().unwrap()),
        "path not named: {log}"
    );
}
