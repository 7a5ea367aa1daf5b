//! Failed documents end to end through the binary: a unique index only the backup has refuses
//! some documents; they are parked (listed by `/api/v1/failed` without field values, counted by
//! `parked_documents`) while every other document flows; the parked state survives kill -9;
//! once the index is dropped, a retry heals them and the backup is identical.

use super::{get_authed, json, post_authed};
use crate::support::procs::ReplicatorProcess;
use crate::support::{converge, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The duplicated value: never expected in any answer.
const EMAIL: &str = "shared-7c1e@example.org";

async fn failed(p: &ReplicatorProcess) -> Vec<serde_json::Value> {
    let reply = get_authed(p.http, "/api/v1/failed").await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert!(
        !reply.body.contains(EMAIL),
        "a field value leaked: {}",
        reply.body
    );
    json(&reply)["documents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn wait_parked(p: &ReplicatorProcess, n: usize) -> Vec<serde_json::Value> {
    wait_until(&format!("{n} parked"), WAIT, || async {
        p.get("/readyz").await.is_some() && failed(p).await.len() == n
    })
    .await;
    failed(p).await
}

async fn retry(p: &ReplicatorProcess, body: &str) -> crate::support::http::Reply {
    post_authed(p.http, "/api/v1/failed/retry", Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_documents_park_while_others_flow_survive_kill_9_and_heal_on_retry() {
    let dep = Deployment::start().await;
    let cfg = super::token_config(&dep, "failed_park", &["users"]);
    let dst = cfg.target.database.clone();
    let users = super::seeded_users(&dep, &cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("ready", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    converge(&dep, &cfg, WAIT).await;

    // Only the backup has this unique index: documents 2 and 3 can never be written there.
    super::refuse_two_users(&dep.db(&dst), &users, EMAIL).await;
    users
        .update_one(doc! {"_id": 2}, doc! {"$set": {"n": 1}})
        .await
        .unwrap();
    for id in 10..30 {
        users
            .insert_one(doc! {"_id": id, "email": format!("u{id}")})
            .await
            .unwrap();
    }
    let parked = wait_parked(&p, 2).await;
    let target = dep.db(&dst).collection::<Document>("users");
    wait_until("the others flow", WAIT, || async {
        target
            .count_documents(doc! {"_id": {"$gte": 10}})
            .await
            .unwrap()
            == 20
    })
    .await;
    let mut ids: Vec<String> = parked.iter().map(|d| d["id"].to_string()).collect();
    ids.sort();
    assert_eq!(ids, [r#"{"$numberInt":"2"}"#, r#"{"$numberInt":"3"}"#]);
    let two = parked
        .iter()
        .find(|d| d["id"]["$numberInt"] == "2")
        .unwrap();
    assert_eq!(two["collection"], "users");
    assert_eq!(two["code"], 11000);
    assert!(two["attempts"].as_u64().unwrap() >= 1, "{two}");
    assert!(
        two["events_waiting"].as_u64().unwrap() >= 1,
        "the update waits: {two}"
    );
    assert!(
        two["first_seen"].is_string() && two["last_seen"].is_string(),
        "{two}"
    );
    assert_eq!(p.metric(names::PARKED_DOCUMENTS).await, 2.0);

    // kill -9: the parked entries are in the checkpoint.
    p.kill9();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_parked(&p, 2).await;

    let unknown = retry(&p, r#"{"collection": "users", "id": {"$numberInt": "99"}}"#).await;
    assert_eq!(unknown.code, 404, "{}", unknown.body);
    dep.db(&dst)
        .run_command(doc! {"dropIndexes": "users", "index": "email_unique"})
        .await
        .unwrap();
    let one = retry(&p, r#"{"collection": "users", "id": {"$numberInt": "2"}}"#).await;
    assert_eq!(one.code, 200, "{}", one.body);
    wait_parked(&p, 1).await;
    let all = retry(&p, r#"{"all": true}"#).await;
    assert_eq!(all.code, 200, "{}", all.body);
    wait_parked(&p, 0).await;
    converge(&dep, &cfg, WAIT).await;
    assert_eq!(p.metric(names::PARKED_DOCUMENTS).await, 0.0);
}
