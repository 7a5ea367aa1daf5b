//! What operators see, end to end over HTTP: exact counters for a known workload, lag that rises
//! while the target is blocked and returns to 0, `/readyz` failing while the source is down,
//! `/status` fields, and a graceful stop that loses nothing and replays (almost) nothing.

use crate::support::http::{metric_value, series};
use crate::support::{
    assert_identical, assert_identical_between, config, db_names, skip_on_real_server,
    spawn_binary, terminate, two_deployments, wait_until, write_config, Deployment, Needs,
    Replicator,
};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

const OPS: &[&str] = &["insert", "update", "replace", "delete"];

/// `events_applied_total` of each of [`OPS`] in a `/metrics` body.
fn applied_in(body: &str) -> Vec<f64> {
    OPS.iter()
        .map(|op| metric_value(body, &series(names::EVENTS_APPLIED_TOTAL, "op", op)))
        .collect()
}

async fn applied(r: &Replicator) -> Vec<f64> {
    applied_in(&r.get("/metrics").await.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_match_a_known_workload_exactly() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("counters");
    let cfg = config(&dep.uri, &src, &dst);
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": -1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    let before = applied(&r).await;
    let received_before = r.metric(names::EVENTS_RECEIVED_TOTAL).await;

    for i in 0..100 {
        orders
            .insert_one(doc! {"_id": i, "status": "new"})
            .await
            .unwrap();
    }
    for i in 0..50 {
        orders
            .update_one(doc! {"_id": i}, doc! {"$set": {"status": "paid"}})
            .await
            .unwrap();
    }
    for i in 50..70 {
        orders
            .replace_one(doc! {"_id": i}, doc! {"status": "replaced"})
            .await
            .unwrap();
    }
    for i in 70..100 {
        orders.delete_one(doc! {"_id": i}).await.unwrap();
    }
    r.caught_up(Duration::from_secs(30)).await;
    let after = applied(&r).await;
    let deltas: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        deltas,
        vec![100.0, 50.0, 20.0, 30.0],
        "events_applied_total deltas for {OPS:?}"
    );
    assert_eq!(
        r.metric(names::EVENTS_RECEIVED_TOTAL).await - received_before,
        200.0
    );
    assert_eq!(
        r.metric(names::LAG_SECONDS).await,
        0.0,
        "lag must be 0 when caught up"
    );
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_rises_while_the_target_is_blocked_and_returns_to_zero() {
    skip_on_real_server!(Needs::FailPoints);
    let (source, target, cfg) = two_deployments("lag").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let orders = source.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": 0}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    // Every write of the replicator to the target hangs for 1.5 s until the fail point is off.
    let fail_point = |mode: bson::Bson| doc! {"configureFailPoint": "failCommand", "mode": mode, "data": {"failCommands": ["update"], "blockConnection": true, "blockTimeMS": 1500, "appName": "mongo-replicator"}};
    target
        .db("admin")
        .run_command(fail_point("alwaysOn".into()))
        .await
        .unwrap();
    for i in 1..50 {
        orders.insert_one(doc! {"_id": i}).await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    wait_until(
        "lag above 0 while blocked",
        Duration::from_secs(10),
        || async { r.metric(names::LAG_SECONDS).await > 0.5 },
    )
    .await;
    target
        .db("admin")
        .run_command(fail_point("off".into()))
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    wait_until("lag back to 0", Duration::from_secs(5), || async {
        r.metric(names::LAG_SECONDS).await == 0.0
    })
    .await;
    assert_identical_between(&cfg, &source.db(&src), &target.db(&dst)).await;
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_the_source_is_down() {
    skip_on_real_server!(Needs::ServerStop);
    let (source, _target, cfg) = two_deployments("readyz").await;
    let src = cfg.source.database.clone();
    source
        .db(&src)
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    assert_eq!(r.get("/readyz").await.0, 200);
    assert_eq!(r.get("/healthz").await.0, 200);

    let Deployment { testbed, .. } = source;
    testbed.unwrap().shutdown().await;
    wait_until(
        "/readyz 503 with the source down",
        Duration::from_secs(20),
        || async { r.get("/readyz").await.0 == 503 },
    )
    .await;
    assert_eq!(
        r.get("/healthz").await.0,
        200,
        "alive while waiting for the source"
    );
    assert_eq!(r.metric(&series(names::UP, "side", "source")).await, 0.0);
    r.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_phase_names_counts_and_no_connection_string() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("status");
    let cfg = config(&dep.uri, &src, &dst);
    dep.db(&src)
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    dep.db(&src)
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 2})
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    let (code, body) = r.get("/status").await;
    assert_eq!(code, 200);
    let s: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(s["phase"], "tailing");
    assert_eq!(s["source"]["database"], src.as_str());
    assert_eq!(s["target"]["database"], dst.as_str());
    assert_eq!(s["events_applied"]["insert"], 1);
    assert!(s["last_applied_cluster_time"].is_object(), "{s}");
    assert!(s["last_checkpoint_time"].is_string(), "{s}");
    assert!(
        !body.contains("mongodb://"),
        "a connection string leaked: {body}"
    );
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_under_traffic_replays_at_most_one_batch() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("graceful");
    let cfg = config(&dep.uri, &src, &dst);
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": -1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    let base: f64 = applied(&r).await.iter().sum();

    let writer = {
        let orders = orders.clone();
        tokio::spawn(async move {
            for i in 0..20_000 {
                orders.insert_one(doc! {"_id": i, "v": 0}).await.unwrap();
                orders
                    .update_one(doc! {"_id": i}, doc! {"$inc": {"v": 1}})
                    .await
                    .unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.stop.cancel();
    let stopped_at = std::time::Instant::now();
    let metrics = r.reporter.metrics.clone();
    r.job.await.unwrap().expect("clean stop");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(10),
        "stop took {:?}",
        stopped_at.elapsed()
    );
    let first: f64 = applied_in(&metrics.render()).iter().sum::<f64>() - base;
    writer.await.unwrap();

    let r2 = Replicator::start(&cfg).await;
    r2.caught_up(Duration::from_secs(60)).await;
    assert_identical(&dep, &cfg).await;
    let second: f64 = applied(&r2).await.iter().sum();
    // The second run applies what the first had not; anything applied twice is a replay, and a
    // graceful stop checkpoints everything it applied, so at most one batch may repeat.
    let total_events = 40_000.0;
    let replayed = first + second - total_events;
    eprintln!("first run applied {first}, second {second}, replayed {replayed}");
    assert!(
        (0.0..=cfg.apply.batch_size as f64).contains(&replayed),
        "first {first} second {second}"
    );
    assert!(
        first >= 1.0 && second >= 1.0,
        "the stop did not land mid-traffic: the test proves nothing"
    );
    r2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_heavy_traffic_exits_0_with_a_clean_checkpoint() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("sigterm");
    let cfg = config(&dep.uri, &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": -1}).await.unwrap();
    let mut child = spawn_binary(
        &["run", "--config", path.to_str().unwrap()],
        &[("RUST_LOG", "info")],
    );
    let traffic = {
        let orders = orders.clone();
        tokio::spawn(async move {
            let docs: Vec<Document> = (0..200)
                .map(|j| doc! {"pad": "x".repeat(500), "j": j})
                .collect();
            for _ in 0..100 {
                if orders.insert_many(docs.clone()).await.is_err() {
                    break;
                }
            }
        })
    };
    let ckpt = dep
        .db(&cfg.checkpoint.database)
        .collection::<Document>("checkpoints");
    wait_until(
        "the replicator to checkpoint while tailing",
        Duration::from_secs(30),
        || async {
            ckpt.find_one(doc! {})
                .await
                .ok()
                .flatten()
                .is_some_and(|d| !d.get_bool("copying").unwrap_or(true))
        },
    )
    .await;
    let started = std::time::Instant::now();
    let code = tokio::task::spawn_blocking(move || terminate(&mut child, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        code,
        Some(0),
        "SIGTERM under traffic must exit 0 within 10 s"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let stored = ckpt.find_one(doc! {}).await.unwrap().expect("checkpoint");
    assert!(
        stored.get_bool("clean").unwrap_or(false),
        "the final checkpoint is not marked clean: {stored}"
    );
    traffic.await.unwrap();
}
