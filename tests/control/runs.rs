//! The run history end to end through the binary: `GET /api/v1/runs` keeps each run (start,
//! phases, copy summary, exit) in the checkpoint database across restarts; a run killed with
//! -9 shows as ended `unknown`, a SIGTERM as `signal`; runs older than `history.runs_retention`
//! are pruned at start; nothing but names and counts is shown.

use super::{get_authed, json, started};
use crate::support::procs::ReplicatorProcess;
use crate::support::{wait_until, Deployment};
use bson::{doc, Document};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// A field value of the copied documents: never expected in the history.
const VALUE: &str = "secret-value-5d2e";

/// `GET /api/v1/runs` (`query` appended), asserting 200 and no field value.
pub async fn runs(p: &ReplicatorProcess, query: &str) -> Vec<Value> {
    let reply = get_authed(p.http, &format!("/api/v1/runs{query}")).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert!(
        !reply.body.contains(VALUE),
        "a value leaked: {}",
        reply.body
    );
    json(&reply)["runs"].as_array().cloned().unwrap_or_default()
}

fn phases(run: &Value) -> Vec<String> {
    run["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["phase"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits until the current run is tailing and its record (phases included) is stored.
pub async fn tailing_and_stored<F, Fut>(p: &ReplicatorProcess, stored: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until("the run is tailing", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
            && runs(p, "")
                .await
                .first()
                .is_some_and(|r| phases(r).contains(&"tailing".into()))
    })
    .await;
    wait_until("the run's record stored", WAIT, stored).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_kill_9_and_sigterm_with_their_exit_and_old_runs_are_pruned() {
    let dep = Deployment::start().await;
    let cfg = super::token_config(&dep, "runs_hist", &["orders"]);
    let src = cfg.source.database.clone();
    let history = dep
        .db(&cfg.checkpoint.database)
        .collection::<Document>("runs");
    let pair = format!("{}->{}", cfg.source.database, cfg.target.database);
    // A run from 40 days ago (past the 30-day default) and one of another pair.
    let old = bson::DateTime::now().timestamp_millis() - 40 * 86_400_000;
    history
        .insert_many([
            doc! {"_id": "old", "id": "old", "pair": &pair, "version": "0", "started_ms": old, "last_seen_ms": old, "ended_ms": null, "exit": null},
            doc! {"_id": "other", "id": "other", "pair": "x->y", "version": "0", "started_ms": old, "last_seen_ms": old, "ended_ms": null, "exit": null},
        ])
        .await
        .unwrap();
    let orders = dep.db(&src).collection::<Document>("orders");
    for i in 0..5 {
        orders
            .insert_one(doc! {"_id": i, "v": VALUE})
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();

    let mut first = started(dir.path(), &cfg).await;
    let stored_tailing = || async {
        let run = history
            .find_one(doc! {"pair": &pair, "phases.what": "tailing", "exit": null})
            .await
            .unwrap();
        run.is_some()
    };
    tailing_and_stored(&first, stored_tailing).await;
    let now = runs(&first, "").await;
    assert_eq!(now.len(), 1, "the old run is pruned at start: {now:?}");
    let first_id = now[0]["id"].as_str().unwrap().to_string();
    assert_eq!(now[0]["copies"][0]["collection"], "orders");
    assert_eq!(now[0]["copies"][0]["documents"], 5);
    assert!(
        phases(&now[0]).starts_with(&["copying".into()]),
        "{:?}",
        now[0]
    );
    assert!(
        history
            .find_one(doc! {"_id": "other"})
            .await
            .unwrap()
            .is_some(),
        "another pair's runs are not ours to prune"
    );
    first.kill9();

    let second = started(dir.path(), &cfg).await;
    wait_until("the second run lists the first", WAIT, || async {
        runs(&second, "").await.len() == 2
    })
    .await;
    let list = runs(&second, "").await;
    assert_eq!(list[0]["state"], "running");
    assert_ne!(list[0]["id"], first_id.as_str());
    assert_eq!(list[1]["id"], first_id.as_str());
    assert_eq!(list[1]["state"], "ended");
    assert_eq!(list[1]["exit"]["reason"], "unknown", "{}", list[1]);
    assert_eq!(list[1]["ended_at"], Value::Null, "no end was recorded");
    assert_eq!(runs(&second, "?limit=1").await.len(), 1);
    let bad = get_authed(second.http, "/api/v1/runs?limit=0").await;
    assert_eq!(bad.code, 400, "{}", bad.body);
    let second_id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(second.terminate(WAIT).await, Some(0));

    let third = started(dir.path(), &cfg).await;
    // HTTP answers before the history store is attached (after both sides connect): until
    // then `loaded` is false and only this run is listed.
    wait_until("the third run's history loaded", WAIT, || async {
        json(&get_authed(third.http, "/api/v1/runs").await)["loaded"] == true
    })
    .await;
    let list = runs(&third, "").await;
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[1]["id"], second_id.as_str());
    assert_eq!(list[1]["exit"]["reason"], "signal", "{}", list[1]);
    assert_eq!(list[1]["exit"]["message"], "SIGTERM");
    assert!(list[1]["ended_at"].is_string(), "{}", list[1]);
    assert_eq!(list[2]["exit"]["reason"], "unknown");
    assert_eq!(third.terminate(WAIT).await, Some(0));
}
