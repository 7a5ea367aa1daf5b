//! The binary's contract: exit codes (0 ok, 1 verify differences, 2 bad configuration) and
//! one-line errors naming the bad key.

use crate::support::procs::ReplicatorProcess;
use crate::support::{config, db_names, run_binary, wait_until, write_config, Deployment};
use bson::doc;
use std::time::Duration;

#[test]
fn unknown_key_in_file_is_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[apply]\nwrokers = 3\n").unwrap();
    let (code, _, err) = run_binary(&["run", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("wrokers"),
        "error does not name the key: {err}"
    );
}

#[test]
fn invalid_env_value_is_exit_2_naming_the_key() {
    let (code, _, err) = run_binary(&["run"], &[("REPLICATOR_APPLY__WORKERS", "0")]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("apply.workers"),
        "error does not name the key: {err}"
    );
}

#[test]
fn password_never_appears_in_config_errors() {
    let (code, out, err) = run_binary(
        &[
            "run",
            "--source-uri",
            "mongodb://admin:hunter2secret@localhost:1/?replicaSet=rs0",
            "--workers",
            "0",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        !err.contains("hunter2secret") && !out.contains("hunter2secret"),
        "password leaked: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_exits_1_on_differences_and_0_when_identical() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("verify");
    let cfg = config(&dep.uri, &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let path = path.to_str().unwrap().to_string();
    dep.db(&src)
        .collection("c")
        .insert_many(vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 2, "a": 2}])
        .await
        .unwrap();
    dep.db(&dst)
        .collection("c")
        .insert_many(vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 3, "a": 3}])
        .await
        .unwrap();
    let p = path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run_binary(&["verify", "--config", &p], &[]))
            .await
            .unwrap();
    assert_eq!(code, 1, "stdout: {out} stderr: {err}");
    assert!(
        out.contains("missing=1") && out.contains("extra=1"),
        "report: {out}"
    );

    dep.db(&dst)
        .collection::<bson::Document>("c")
        .delete_one(doc! {"_id": 3})
        .await
        .unwrap();
    dep.db(&dst)
        .collection("c")
        .insert_one(doc! {"_id": 2, "a": 2})
        .await
        .unwrap();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run_binary(&["verify", "--config", &path], &[]))
            .await
            .unwrap();
    assert_eq!(code, 0, "stdout: {out} stderr: {err}");
    assert!(out.contains("identical"), "report: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_sees_field_order_and_type_differences() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("verify_exact");
    let cfg = config(&dep.uri, &src, &dst);
    dep.db(&src)
        .collection("c")
        .insert_many(vec![
            doc! {"_id": 1, "a": 1, "b": 2},
            doc! {"_id": 2, "n": 1i32},
        ])
        .await
        .unwrap();
    dep.db(&dst)
        .collection("c")
        .insert_many(vec![
            doc! {"_id": 1, "b": 2, "a": 1},
            doc! {"_id": 2, "n": 1i64},
        ])
        .await
        .unwrap();
    let report = crate::support::verify(&dep, &cfg).await;
    assert_eq!(report.collections[0].different, 2, "{report}");
}

/// `verify` and `copy` run next to a live `run` on the same configuration (same `http.addr`):
/// `verify` serves no HTTP, `copy` goes on without it when the address is taken. Before, both
/// exited 2 "cannot listen" on the default address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_copy_run_next_to_a_running_replicator() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("beside_run");
    let cfg = config(&dep.uri, &src, &dst);
    dep.db(&src)
        .collection("c")
        .insert_many(vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 2, "a": 2}])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("run serves /readyz", Duration::from_secs(30), || async {
        matches!(run.get("/readyz").await, Some((200, _)))
    })
    .await;
    // The same configuration, `http.addr` included: the address `run` holds.
    let mut same = cfg.clone();
    same.http.addr = run.http;
    let path = write_config(dir.path(), &same);
    let path = path.to_str().unwrap().to_string();
    for command in ["verify", "copy"] {
        let p = path.clone();
        let (code, out, err) =
            tokio::task::spawn_blocking(move || run_binary(&[command, "--config", &p], &[]))
                .await
                .unwrap();
        assert_eq!(code, 0, "{command}: stdout: {out} stderr: {err}");
        assert!(!err.contains("cannot listen"), "{command}: {err}");
    }
    assert_eq!(
        run.get("/healthz").await.map(|(code, _)| code),
        Some(200),
        "run still serves its endpoints"
    );
    assert_eq!(run.terminate(Duration::from_secs(15)).await, Some(0));
}
