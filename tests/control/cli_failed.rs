//! `mongo-replicator failed | retry | skip | runs` and `verify`'s known differences, end to end
//! through the binary: a backup-only unique index parks two of three documents; the CLI lists them,
//! refuses bad usage (2), reports a refusal (1) and an unreachable replicator (3), and skips
//! them; `verify` then exits 0 reporting them as known (`known: 2 skipped`) until a newer event
//! rewrites one; `runs` shows the history across a kill -9 (the first run `unknown`, the
//! second running), with the file checkpoint store (the history beside the file).

use super::{json, started, TOKEN};
use crate::support::procs::free_port;
use crate::support::{converge, run_binary, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::CheckpointStoreKind;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The duplicated value: never expected in any output.
const EMAIL: &str = "dup-91b0@example.org";

async fn cli(list: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_binary(&args, &[]);
        assert!(
            !out.1.contains(EMAIL) && !out.2.contains(EMAIL) && !out.1.contains(TOKEN),
            "a value or the token leaked: {out:?}"
        );
        out
    })
    .await
    .unwrap()
}

/// `failed --json` through the CLI: the parked count.
async fn parked(config: &str) -> u64 {
    let (code, out, err) = cli(&["failed", "--config", config, "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    v["count"].as_u64().unwrap()
}

/// `verify --config` exit code and stdout.
async fn verify(config: &str) -> (i32, String) {
    let (code, out, err) = cli(&["verify", "--config", config]).await;
    (code, format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_retry_skip_runs_through_the_cli_and_verify_knows_the_skipped() {
    let dep = Deployment::start().await;
    let mut cfg = super::token_config(&dep, "cli_failed", &["users"]);
    let dir = tempfile::tempdir().unwrap();
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(dir.path().join("checkpoint.bson"));
    let dst = cfg.target.database.clone();
    let users = super::seeded_users(&dep, &cfg).await;
    let mut p = started(dir.path(), &cfg).await;
    let config = dir.path().join("replicator.toml");
    let config = config.to_str().unwrap();
    wait_until("ready", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    converge(&dep, &cfg, WAIT).await;

    // Only the backup has a unique index on email: two of three documents are parked.
    let target = dep.db(&dst);
    super::refuse_two_users(&target, &users, EMAIL).await;
    wait_until("2 parked", WAIT, || async { parked(config).await == 2 }).await;
    // Which two of the three lose the race for the unique value depends on the writers.
    let (code, out, err) = cli(&["failed", "--config", config, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let ids: Vec<i32> = json_of(&out)["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"]["$numberInt"].as_str().unwrap().parse().unwrap())
        .collect();
    let first = ids[0];
    let (code, out, err) = cli(&["failed", "--config", config]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("COLLECTION"), "a table: {out}");
    let shown = format!(r#"{{"$numberInt":"{first}"}}"#);
    assert!(out.contains(&shown) && out.contains("11000"), "{out}");
    let (code, out, _) = cli(&["failed", "--config", config, "--collection", "other"]).await;
    assert_eq!((code, out.trim()), (0, "no parked documents"));

    // Bad usage (2), the server says no (1), nothing listening (3).
    for bad in [
        vec!["retry", "--config", config],
        vec!["skip", "--config", config, "--id", "2"],
        vec!["skip", "--config", config, "--all", "--collection", "users"],
        vec!["runs", "--config", config, "--limit", "0"],
    ] {
        let (code, _, err) = cli(&bad).await;
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let (code, _, err) = cli(&[
        "retry",
        "--config",
        config,
        "--collection",
        "users",
        "--id",
        "99",
    ])
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("404"), "{err}");
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, _, err) = cli(&["failed", "--addr", &dead]).await;
    assert_eq!(code, 3, "{err}");

    // A retry while the index stays refuses again; then skip one by id, the other by --all.
    let (code, out, err) = cli(&["retry", "--config", config, "--all"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let id = format!(r#"{{"$numberInt": "{first}"}}"#);
    let (code, out, err) = cli(&[
        "skip",
        "--config",
        config,
        "--collection",
        "users",
        "--id",
        &id,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 document(s)"), "{out}");
    assert_eq!(parked(config).await, 1);
    let (code, out, err) = cli(&["skip", "--config", config, "--all", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json_of(&out)["documents"], 1);
    assert_eq!(parked(config).await, 0);

    // The backup's index goes; the two refused documents stay missing there, but they were skipped:
    // verify reports them as known and exits 0.
    target
        .run_command(doc! {"dropIndexes": "users", "index": "email_unique"})
        .await
        .unwrap();
    verify_until(config, "known: 2 skipped").await;
    // A newer event rewrites the first one: only the other is still a known difference.
    users
        .update_one(doc! {"_id": first}, doc! {"$set": {"email": "fixed"}})
        .await
        .unwrap();
    verify_until(config, "known: 1 skipped").await;
    // A difference that was never skipped still fails verify.
    target
        .collection::<Document>("users")
        .insert_one(doc! {"_id": 77})
        .await
        .unwrap();
    let (code, out) = verify(config).await;
    assert_eq!(code, 1, "{out}");
    target
        .collection::<Document>("users")
        .delete_one(doc! {"_id": 77})
        .await
        .unwrap();
    // A resync of the other one rewrites it: it is no longer an exception, so damage done to
    // it on the backup afterwards fails verify again.
    let other = ids[1].to_string();
    let (code, out, err) = cli(&[
        "resync",
        "--config",
        config,
        "--collection",
        "users",
        "--id",
        &other,
        "--wait",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    // Identical with no known difference left: the ended exception reached the checkpoint.
    verify_until(config, "identical\n").await;
    target
        .collection::<Document>("users")
        .delete_one(doc! {"_id": ids[1]})
        .await
        .unwrap();
    let (code, out) = verify(config).await;
    assert_eq!(
        code, 1,
        "a resynced document is still a known difference: {out}"
    );

    // The run history across kill -9, in the file beside the checkpoint.
    p.kill9();
    let p = started(dir.path(), &cfg).await;
    assert!(dir.path().join("checkpoint.runs.json").is_file());
    let (code, out, err) = cli(&["runs", "--config", config]).await;
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("RUN") && lines.len() == 3, "{out}");
    assert!(lines[1].contains("running"), "{out}");
    assert!(lines[2].contains("unknown"), "{out}");
    let (code, out, _) = cli(&["runs", "--config", config, "--json", "--limit", "1"]).await;
    assert_eq!(code, 0);
    assert_eq!(json_of(&out)["runs"].as_array().unwrap().len(), 1);
    let list = json(&super::get_authed(p.http, "/api/v1/runs").await);
    assert_eq!(list["runs"][1]["exit"]["reason"], "unknown", "{list}");
}

/// Runs `verify` until it exits 0 printing `expected`; panics with its last output.
async fn verify_until(config: &str, expected: &str) {
    let start = std::time::Instant::now();
    loop {
        let (code, out) = verify(config).await;
        if code == 0 && out.contains(expected) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "no \"{expected}\" with exit 0: exit {code}\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}
