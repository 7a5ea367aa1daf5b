//! Delayed apply and held destructive changes (issue 14) end to end through the binary:
//! `apply.delay_seconds` (live writes, a backlog at start, a restart mid-delay) and
//! `[apply.hold]` (a drop, a delete burst over the threshold; release, discard, kill -9).

mod delay;
mod deletes;
mod drops;
mod history_lost;

use crate::control::{get_authed, json, post_authed, token_config};
use crate::support::procs::ReplicatorProcess;
use crate::support::{wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::Config;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A deployment, and a config (token, `collections`) with `seed` documents `_id` 0.. in each.
async fn setup(tag: &str, collections: &[&str], seed: i32) -> (Deployment, Config) {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, tag, collections);
    for c in collections {
        let docs: Vec<Document> = (0..seed).map(|i| doc! {"_id": i, "v": i}).collect();
        dep.db(&cfg.source.database)
            .collection::<Document>(c)
            .insert_many(docs)
            .await
            .unwrap();
    }
    (dep, cfg)
}

async fn tailing(p: &ReplicatorProcess) {
    wait_until("ready (tailing)", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
}

async fn count(dep: &Deployment, db: &str, coll: &str) -> u64 {
    dep.count(db, coll).await
}

/// The `GET /api/v1/held` entry of `coll`, if held.
async fn held(p: &ReplicatorProcess, coll: &str) -> Option<Value> {
    let listed = json(&get_authed(p.http, "/api/v1/held").await);
    listed["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["collection"] == coll)
        .cloned()
}

/// Waits until `coll` is held with `count` events.
async fn held_with(p: &ReplicatorProcess, coll: &str, kind: &str, count: u64) {
    wait_until(&format!("{coll} held ({kind}, {count})"), WAIT, || async {
        held(p, coll)
            .await
            .is_some_and(|h| h["kind"] == kind && h["count"].as_u64() == Some(count))
    })
    .await;
}

/// `POST /api/v1/held/{action}` for `coll`; asserts it was carried out.
async fn decide(p: &ReplicatorProcess, action: &str, coll: &str) {
    let body = serde_json::json!({ "collection": coll }).to_string();
    let reply = post_authed(p.http, &format!("/api/v1/held/{action}"), Some(&body)).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(json(&reply)["done"], true, "{}", reply.body);
    assert!(held(p, coll).await.is_none(), "{coll} flows again");
}
