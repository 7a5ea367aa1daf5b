//! `apply.hold.drops = true`: a collection drop is held before it reaches the backup while
//! every other collection flows; discard keeps the backup's collection (and the collection
//! flows again), release (through the CLI) applies the drop; a `dropDatabase` holds each of
//! its collections (events `held_change` on the bus), and a resync of a held collection waits
//! for the decision.

use super::{count, decide, held, held_with, setup, tailing, WAIT};
use crate::control::{get_authed, json, post_authed, TOKEN};
use crate::notify::SseClient;
use crate::support::procs::ReplicatorProcess;
use crate::support::{converge, rename_collection, run_binary, wait_until};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;

async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &[])
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_drop_waits_while_others_flow_then_discard_keeps_and_release_applies_it() {
    let (dep, mut cfg) = setup("hold_drops", &["orders", "items", "logs"], 3).await;
    cfg.apply.hold.drops = true;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let dir = tempfile::tempdir().unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;
    // The default: one writer with 4 batches in flight (history off).
    let log = p.log_text();
    assert!(
        log.contains("tailing: writers 1, batches in flight per writer 4"),
        "{log}"
    );

    dep.db(&src)
        .collection::<Document>("orders")
        .drop()
        .await
        .unwrap();
    held_with(&p, "orders", "drop", 1).await;
    assert_eq!(p.metric(names::HELD_CHANGES).await, 1.0);
    let items = dep.db(&src).collection::<Document>("items");
    items.insert_one(doc! {"_id": 10}).await.unwrap();
    wait_until("items flow while orders is held", WAIT, || async {
        count(&dep, &dst, "items").await == 4
    })
    .await;
    assert_eq!(count(&dep, &dst, "orders").await, 3, "the drop is held");

    decide(&p, "discard", "orders").await;
    assert_eq!(
        count(&dep, &dst, "orders").await,
        3,
        "discard keeps the backup's"
    );
    assert_eq!(p.metric(names::HELD_CHANGES).await, 0.0);
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": 10}).await.unwrap();
    wait_until("orders flow again", WAIT, || async {
        count(&dep, &dst, "orders").await == 4
    })
    .await;

    // The CLI: `held` lists the drop of logs, `release` applies it.
    dep.db(&src)
        .collection::<Document>("logs")
        .drop()
        .await
        .unwrap();
    held_with(&p, "logs", "drop", 1).await;
    let addr = p.http.to_string();
    let ctl = |cmd: &str| -> Vec<String> {
        [cmd, "--addr", &addr, "--token", TOKEN]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let (code, out, err) = cli(ctl("held")).await;
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("logs"))
        .unwrap_or_default();
    assert!(row.contains("drop") && row.contains(" 1 "), "{out}");
    let (code, _, err) = cli(ctl("release")).await;
    assert_eq!(code, 2, "release needs --collection: {err}");
    let mut release = ctl("release");
    release.extend(["--collection".to_string(), "logs".to_string()]);
    let (code, out, err) = cli(release).await;
    assert_eq!((code, out.trim()), (0, "released: logs done"), "{err}");
    assert!(held(&p, "logs").await.is_none());
    let names = dep.db(&dst).list_collection_names().await.unwrap();
    assert!(
        !names.contains(&"logs".to_string()),
        "released drop applied: {names:?}"
    );
    assert!(names.contains(&"orders".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_drop_holds_every_collection_and_says_so_on_the_event_bus() {
    let (dep, mut cfg) = setup("hold_dropdb", &["orders", "items"], 2).await;
    cfg.apply.hold.drops = true;
    let dst = cfg.target.database.clone();
    let dir = tempfile::tempdir().unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;
    let mut events = SseClient::connect(p.http, TOKEN, None).await;

    dep.db(&cfg.source.database).drop().await.unwrap();
    held_with(&p, "orders", "drop", 1).await;
    held_with(&p, "items", "drop", 1).await;
    let mut held_events = Vec::new();
    while held_events.len() < 2 {
        let e = events.until("held_change").await.pop().unwrap();
        assert_eq!(
            (&e.data["data"]["action"], &e.data["data"]["kind"]),
            (&"held".into(), &"drop".into())
        );
        held_events.push(e.data["data"]["collection"].as_str().unwrap().to_string());
    }
    held_events.sort();
    assert_eq!(held_events, ["items", "orders"]);
    assert_eq!(
        (
            count(&dep, &dst, "orders").await,
            count(&dep, &dst, "items").await
        ),
        (2, 2),
        "the backup keeps both"
    );

    decide(&p, "release", "items").await;
    let e = events.until("held_change").await.pop().unwrap();
    assert_eq!(
        (&e.data["data"]["collection"], &e.data["data"]["action"]),
        (&"items".into(), &"released".into())
    );
    let names = dep.db(&dst).list_collection_names().await.unwrap();
    assert!(
        !names.contains(&"items".to_string()) && names.contains(&"orders".to_string()),
        "{names:?}"
    );
    assert!(held(&p, "orders").await.is_some(), "orders still waits");

    // A resync of the held collection waits for the decision (it would empty the backup's).
    let reply = post_authed(
        p.http,
        "/api/v1/resync",
        Some(r#"{"collection": "orders"}"#),
    )
    .await;
    assert_eq!(reply.code, 202, "{}", reply.body);
    let job = format!("/api/v1/jobs/{}", json(&reply)["job"].as_str().unwrap());
    let items = dep.db(&cfg.source.database).collection::<Document>("items");
    items.insert_one(doc! {"_id": 1}).await.unwrap();
    wait_until("items flow", WAIT, || async {
        count(&dep, &dst, "items").await == 1
    })
    .await;
    assert_ne!(json(&get_authed(p.http, &job).await)["state"], "done");
    assert_eq!(count(&dep, &dst, "orders").await, 2, "the resync waits");
    decide(&p, "discard", "orders").await;
    wait_until("the resync ran after the decision", WAIT, || async {
        json(&get_authed(p.http, &job).await)["state"] == "done"
    })
    .await;
    assert_eq!(
        count(&dep, &dst, "orders").await,
        0,
        "it repaired from the source"
    );
}

/// A rename over an existing collection drops the backup's copy of that collection: `drops`
/// holds it as that collection's drop (reading stops meanwhile: the rename moves its source
/// too). Discard keeps the replaced documents under the new name, the renamed ones winning on
/// a shared `_id`; release replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_over_a_collection_is_held_as_its_drop_and_discard_keeps_what_it_replaced() {
    let (dep, mut cfg) = setup("hold_rename", &["orders", "archive", "items", "logs"], 2).await;
    cfg.apply.hold.drops = true;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    // The collections replaced below: `old` marks their own documents.
    for c in ["archive", "logs"] {
        let coll = dep.db(&src).collection::<Document>(c);
        coll.update_many(doc! {}, doc! {"$set": {"old": true}})
            .await
            .unwrap();
        coll.insert_many([
            doc! {"_id": 100, "old": true},
            doc! {"_id": 101, "old": true},
        ])
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, WAIT).await;
    let old = |c: &'static str| {
        let coll = dep.db(&dst).collection::<Document>(c);
        async move { coll.count_documents(doc! {"old": true}).await.unwrap() }
    };

    rename_collection(&dep, &src, "orders", "archive", true).await;
    held_with(&p, "archive", "drop", 1).await;
    assert_eq!(p.metric(names::HELD_CHANGES).await, 1.0);
    assert_eq!(
        (count(&dep, &dst, "orders").await, old("archive").await),
        (2, 4),
        "the backup keeps both while the rename is held"
    );
    decide(&p, "discard", "archive").await;
    let names = dep.db(&dst).list_collection_names().await.unwrap();
    assert!(!names.contains(&"orders".to_string()), "{names:?}");
    assert_eq!(
        (count(&dep, &dst, "archive").await, old("archive").await),
        (4, 2),
        "orders' 0 and 1 over archive's, archive's 100 and 101 kept"
    );
    let items = dep.db(&src).collection::<Document>("items");
    items.insert_one(doc! {"_id": 10}).await.unwrap();
    wait_until("items flow again", WAIT, || async {
        count(&dep, &dst, "items").await == 3
    })
    .await;

    rename_collection(&dep, &src, "items", "logs", true).await;
    held_with(&p, "logs", "drop", 1).await;
    assert_eq!(old("logs").await, 4, "held");
    decide(&p, "release", "logs").await;
    assert_eq!(
        (count(&dep, &dst, "logs").await, old("logs").await),
        (3, 0),
        "release replaced logs with items"
    );
    let names = dep.db(&dst).list_collection_names().await.unwrap();
    assert!(!names.contains(&"items".to_string()), "{names:?}");
}
