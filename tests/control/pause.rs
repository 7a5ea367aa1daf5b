//! Pause and resume through the binary under traffic: everything (nothing read or applied,
//! the checkpoint holds, ready stays 200, lag rises, the pause survives kill -9) and one
//! collection (held while the others flow, then caught up exactly).

use super::{get_authed, json, post_authed};
use crate::support::http::{metric_value, series};
use crate::support::procs::ReplicatorProcess;
use crate::support::{converge, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::Config;
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn setup(tag: &str) -> (Deployment, Config) {
    let dep = Deployment::start().await;
    let cfg = super::token_config(&dep, tag, &["orders", "items"]);
    let src = cfg.source.database.clone();
    for c in ["orders", "items"] {
        dep.db(&src)
            .collection::<Document>(c)
            .insert_one(doc! {"_id": 0, "seed": true})
            .await
            .unwrap();
    }
    (dep, cfg)
}

async fn count(dep: &Deployment, db: &str, coll: &str) -> u64 {
    dep.count(db, coll).await
}

async fn tailing(p: &ReplicatorProcess) {
    wait_until("ready (tailing)", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
}

async fn paused(p: &ReplicatorProcess) -> serde_json::Value {
    json(&get_authed(p.http, "/api/v1/status").await)["paused"].clone()
}

/// Inserts `n` documents `_id` from `from` into `coll`, and updates each one twice.
async fn write(dep: &Deployment, db: &str, coll: &str, from: i32, n: i32) {
    let c = dep.db(db).collection::<Document>(coll);
    for i in from..from + n {
        c.insert_one(doc! {"_id": i, "v": 0}).await.unwrap();
        c.update_one(doc! {"_id": i}, doc! {"$set": {"v": 1, "a": [1, 2]}})
            .await
            .unwrap();
        c.update_one(
            doc! {"_id": i},
            doc! {"$inc": {"v": 1}, "$unset": {"a": ""}},
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_all_stops_everything_survives_kill_9_and_resume_catches_up() {
    let (dep, cfg) = setup("pause_all").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;

    let reply = post_authed(p.http, "/api/v1/pause", None).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let answer = json(&reply);
    assert_eq!(
        (answer["changed"].as_bool(), answer["stored"].as_bool()),
        (Some(true), Some(true))
    );
    write(&dep, &src, "orders", 1, 20).await;
    write(&dep, &src, "items", 1, 20).await;
    let lag_before = json(&get_authed(p.http, "/api/v1/status").await)["lag_seconds"]
        .as_f64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(&dep, &dst, "orders").await,
        1,
        "nothing applied while paused"
    );
    assert_eq!(count(&dep, &dst, "items").await, 1);
    let status = json(&get_authed(p.http, "/api/v1/status").await);
    assert_eq!(status["paused"]["all"], true);
    assert!(
        status["lag_seconds"].as_f64().unwrap() > lag_before,
        "lag keeps rising: {lag_before} -> {}",
        status["lag_seconds"]
    );
    assert_eq!(
        p.get("/readyz").await.unwrap().0,
        200,
        "a pause is not unready"
    );
    let all = series(names::PAUSED, "collection", "all");
    assert_eq!(p.metric(&all).await, 1.0);
    assert_eq!(
        p.metric(&series(names::PAUSED, "collection", "orders"))
            .await,
        0.0
    );

    // kill -9: the pause is in the checkpoint, so the restarted process stays paused.
    p.kill9();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("restarted, paused", WAIT, || async {
        p.get("/metrics")
            .await
            .is_some_and(|(_, m)| metric_value(&m, &all) == 1.0)
    })
    .await;
    assert_eq!(paused(&p).await["all"], true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&dep, &dst, "orders").await,
        1,
        "still nothing applied after the restart"
    );

    let reply = post_authed(p.http, "/api/v1/resume", Some("")).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    converge(&dep, &cfg, WAIT).await;
    assert_eq!(count(&dep, &dst, "orders").await, 21);
    assert_eq!(p.metric(&all).await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_one_collection_holds_it_while_the_others_flow_then_catches_up_exactly() {
    let (dep, cfg) = setup("pause_one").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;

    let unknown = post_authed(p.http, "/api/v1/pause", Some(r#"{"collection": "ordres"}"#)).await;
    assert_eq!(unknown.code, 400);
    assert!(
        json(&unknown)["error"].as_str().unwrap().contains("ordres"),
        "{}",
        unknown.body
    );
    let bad = post_authed(p.http, "/api/v1/pause", Some(r#"{"colection": "orders"}"#)).await;
    assert_eq!(bad.code, 400, "unknown body field");

    let reply = post_authed(p.http, "/api/v1/pause", Some(r#"{"collection": "orders"}"#)).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    write(&dep, &src, "orders", 1, 30).await;
    write(&dep, &src, "items", 1, 30).await;
    wait_until("items flow while orders is paused", WAIT, || async {
        count(&dep, &dst, "items").await == 31
    })
    .await;
    assert_eq!(count(&dep, &dst, "orders").await, 1, "orders held");
    let held = paused(&p).await;
    assert_eq!(held["all"], false);
    assert_eq!(held["collections"]["orders"]["held_events"], 90, "{held}");
    assert_eq!(p.get("/readyz").await.unwrap().0, 200);
    assert_eq!(
        p.metric(&series(names::PAUSED, "collection", "orders"))
            .await,
        1.0
    );
    assert_eq!(
        p.metric(&series(names::PAUSED, "collection", "items"))
            .await,
        0.0
    );

    // More changes to held documents while paused; resume applies all of them in order.
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.delete_one(doc! {"_id": 3}).await.unwrap();
    orders
        .replace_one(doc! {"_id": 4}, doc! {"_id": 4, "replaced": true})
        .await
        .unwrap();
    let reply = post_authed(
        p.http,
        "/api/v1/resume",
        Some(r#"{"collection": "orders"}"#),
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    converge(&dep, &cfg, WAIT).await;
    assert_eq!(paused(&p).await["collections"], serde_json::json!({}));
    let shown = format!("{:?}", p.get("/metrics").await);
    assert!(!shown.contains("replaced"), "no field values in metrics");
}

/// kill -9 while one collection is paused with events held: the checkpoint had not passed the
/// first held event, so the restarted process reads them again, holds them again (still
/// paused, from the checkpoint) and applies them exactly on resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_events_of_a_paused_collection_survive_kill_9() {
    let (dep, cfg) = setup("pause_crash").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;
    let reply = post_authed(p.http, "/api/v1/pause", Some(r#"{"collection": "orders"}"#)).await;
    assert_eq!(json(&reply)["stored"], true, "{}", reply.body);
    write(&dep, &src, "orders", 1, 10).await;
    write(&dep, &src, "items", 1, 10).await;
    wait_until("items applied", WAIT, || async {
        count(&dep, &dst, "items").await == 11
    })
    .await;
    // Let a few checkpoint ticks pass: none may move past the held orders events.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.kill9();
    write(&dep, &src, "items", 100, 5).await;

    let p = ReplicatorProcess::run(dir.path(), &cfg);
    wait_until("orders held again after the restart", WAIT, || async {
        p.get("/healthz").await.is_some()
            && paused(&p).await["collections"]["orders"]["held_events"] == 30
    })
    .await;
    wait_until("items flow after the restart", WAIT, || async {
        count(&dep, &dst, "items").await == 16
    })
    .await;
    assert_eq!(count(&dep, &dst, "orders").await, 1, "still paused");
    let reply = post_authed(p.http, "/api/v1/resume", None).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    converge(&dep, &cfg, WAIT).await;
}
