//! Resync jobs end to end through the binary, while traffic runs: the backup is damaged directly
//! (documents deleted, modified, extras inserted), which the tail alone never repairs; a resync
//! of the collection heals it and `verify` is identical (`_id`s: [`super::resync_ids`]). Bad
//! requests are refused naming what is wrong. The helpers here serve the other resync tests.

use super::cli::cli;
use super::{get_authed, json, post_authed, TOKEN};
use crate::support::procs::{free_port, ReplicatorProcess};
use crate::support::{converge, wait_until, Deployment};
use bson::{doc, Bson, Document};
use mongo_replicator::ops::metrics::names;
use mongodb::Collection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(super) const WAIT: Duration = Duration::from_secs(90);
/// `_id`s the traffic changes (some of them are damaged too): 100..TRAFFIC_IDS.
pub(super) const TRAFFIC_IDS: i32 = 160;

/// Updates, replaces, inserts and deletes on `coll` until stopped: `_id`s 100..160 change all
/// the time, `_id`s from 10 000 come and go.
pub(crate) struct Traffic {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Traffic {
    pub(crate) fn start(coll: Collection<Document>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut n: u64 = 0;
            while !flag.load(Ordering::SeqCst) {
                let i = n as i32;
                let id = 100 + i % (TRAFFIC_IDS - 100);
                match n % 4 {
                    0 => coll
                        .update_one(doc! {"_id": id}, doc! {"$inc": {"v": 1}, "$set": {"at": i}})
                        .await
                        .map(drop),
                    1 => coll
                        .replace_one(doc! {"_id": id}, doc! {"_id": id, "v": i, "whole": true})
                        .await
                        .map(drop),
                    2 => coll
                        .insert_one(doc! {"_id": 10_000 + i, "v": i})
                        .await
                        .map(drop),
                    _ => coll
                        .delete_one(doc! {"_id": 10_000 + i - 10})
                        .await
                        .map(drop),
                }
                .unwrap();
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        });
        Traffic { stop, task }
    }

    pub(crate) async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

/// A replicator of `orders` (seeded with `_id`s 0..`seeded` and `"user-1"`), tailing and caught
/// up, and the collection on both sides.
pub(super) struct Setup {
    pub dep: Deployment,
    pub cfg: mongo_replicator::config::Config,
    pub p: ReplicatorProcess,
    pub source: Collection<Document>,
    pub backup: Collection<Document>,
}

pub(super) async fn setup(tag: &str, dir: &std::path::Path, seeded: i32) -> Setup {
    setup_with(tag, dir, seeded, |_| {}).await
}

/// [`setup`] with the configuration changed by `adjust`.
pub(super) async fn setup_with(
    tag: &str,
    dir: &std::path::Path,
    seeded: i32,
    adjust: impl FnOnce(&mut mongo_replicator::config::Config),
) -> Setup {
    let dep = Deployment::start().await;
    let mut cfg = super::token_config(&dep, tag, &["orders"]);
    adjust(&mut cfg);
    let source = dep
        .db(&cfg.source.database)
        .collection::<Document>("orders");
    let backup = dep
        .db(&cfg.target.database)
        .collection::<Document>("orders");
    let seed: Vec<Document> = (0..seeded).map(|i| doc! {"_id": i, "v": 0}).collect();
    source.insert_many(seed).await.unwrap();
    source
        .insert_one(doc! {"_id": "user-1", "v": 0})
        .await
        .unwrap();
    let p = ReplicatorProcess::run(dir, &cfg);
    wait_until("ready (tailing)", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    converge(&dep, &cfg, WAIT).await;
    Setup {
        dep,
        cfg,
        p,
        source,
        backup,
    }
}

/// Damages the backup directly: deletes `gone`, modifies `changed`, inserts `extra`.
pub(crate) async fn damage(
    backup: &Collection<Document>,
    gone: &[Bson],
    changed: &[Bson],
    extra: &[Bson],
) {
    for id in gone {
        let r = backup.delete_one(doc! {"_id": id.clone()}).await.unwrap();
        assert_eq!(r.deleted_count, 1, "{id} was on the backup");
    }
    for id in changed {
        backup
            .update_one(doc! {"_id": id.clone()}, doc! {"$set": {"damaged": true}})
            .await
            .unwrap();
    }
    for id in extra {
        backup
            .insert_one(doc! {"_id": id.clone(), "extra": true})
            .await
            .unwrap();
    }
}

pub(super) async fn find(coll: &Collection<Document>, id: &Bson) -> Option<Document> {
    coll.find_one(doc! {"_id": id.clone()}).await.unwrap()
}

/// Waits for job `id` to end; its JSON.
pub(super) async fn finished(p: &ReplicatorProcess, id: &str) -> serde_json::Value {
    let path = format!("/api/v1/jobs/{id}");
    wait_until(&format!("job {id} ended"), WAIT, || async {
        let reply = get_authed(p.http, &path).await;
        matches!(json(&reply)["state"].as_str(), Some("done" | "failed"))
    })
    .await;
    json(&get_authed(p.http, &path).await)
}

/// `POST /api/v1/resync` with `body`.
async fn resync(p: &ReplicatorProcess, body: &str) -> crate::support::http::Reply {
    post_authed(p.http, "/api/v1/resync", Some(body)).await
}

/// `mongo-replicator resync --addr <p> --token <TOKEN> <extra...>`.
pub(super) async fn resync_cli(p: &ReplicatorProcess, extra: &[&str]) -> (i32, String, String) {
    let addr = p.http.to_string();
    let mut args: Vec<String> = ["resync", "--addr", &addr, "--token", TOKEN]
        .map(String::from)
        .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    cli(args).await
}

/// Submits a job; its id.
pub(super) async fn submit(p: &ReplicatorProcess, body: &str) -> String {
    let reply = resync(p, body).await;
    assert_eq!(reply.code, 202, "{}", reply.body);
    json(&reply)["job"].as_str().unwrap().to_string()
}

pub(super) fn ints(ids: impl IntoIterator<Item = i32>) -> Vec<Bson> {
    ids.into_iter().map(Bson::Int32).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_resync_under_traffic_heals_what_was_damaged_on_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    // Large enough that the traffic goes on while the job compares.
    let s = setup("resync_coll", dir.path(), 3000).await;
    let (dep, cfg, p, source, backup) = (&s.dep, &s.cfg, &s.p, &s.source, &s.backup);
    let traffic = Traffic::start(source.clone());

    // Damage the quiet documents and some the traffic keeps changing.
    let gone: Vec<Bson> = ints((0..10).chain(100..105));
    let mut changed: Vec<Bson> = ints((10..20).chain(105..110));
    changed.push(Bson::String("user-1".into()));
    let extra = ints(-10..0);
    damage(backup, &gone, &changed, &extra).await;
    // The tail alone does not repair it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(find(backup, &Bson::Int32(3)).await.is_none());
    assert_eq!(
        find(backup, &Bson::Int32(13))
            .await
            .unwrap()
            .get_bool("damaged"),
        Ok(true)
    );
    assert!(find(backup, &Bson::Int32(-3)).await.is_some());

    let job = submit(p, r#"{"collection": "orders"}"#).await;
    let shown = finished(p, &job).await;
    assert_eq!(shown["state"], "done", "{shown}");
    assert_eq!(
        (shown["kind"].as_str(), shown["collection"].as_str()),
        (Some("resync_collection"), Some("orders"))
    );
    let counts = &shown["counts"];
    let n = |k: &str| counts[k].as_u64().unwrap();
    assert!(n("examined") >= TRAFFIC_IDS as u64, "{shown}");
    assert!(
        n("rewritten") >= 21,
        "the deleted and modified ones at least: {shown}"
    );
    assert!(n("deleted") >= 10, "the extras at least: {shown}");
    assert!(
        shown["started"].is_string() && shown["finished"].is_string(),
        "{shown}"
    );
    let status = json(&get_authed(p.http, "/api/v1/status").await);
    assert_eq!(status["resync"]["done"], 1, "{status}");

    // Traffic went on during the repair; once it stops, the backup is identical.
    let ops = traffic.stop().await;
    assert!(ops > 0);
    converge(dep, cfg, WAIT).await;
    let submitted = format!(
        "{}{{result=\"ok\",route=\"/api/v1/resync\"}}",
        names::CONTROL_REQUESTS_TOTAL
    );
    assert_eq!(p.metric(&submitted).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_resync_requests_are_refused_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("resync_bad", dir.path(), TRAFFIC_IDS).await;
    let p = &s.p;
    let unknown = resync(p, r#"{"collection": "ordres"}"#).await;
    assert_eq!(unknown.code, 404, "{}", unknown.body);
    assert!(
        json(&unknown)["error"].as_str().unwrap().contains("ordres"),
        "{}",
        unknown.body
    );
    for (body, says) in [
        (
            r#"{"collection": "orders", "ids": [{"$oid": "zz"}]}"#,
            "ids[0]",
        ),
        (r#"{"collection": "orders", "ids": [[1]]}"#, "ids[0]"),
        (r#"{"collection": "orders", "ids": []}"#, "ids is empty"),
        (r#"{"collection": "orders", "id": 1}"#, "the body must be"),
        ("not json", "the body must be"),
    ] {
        let reply = resync(p, body).await;
        assert_eq!(reply.code, 400, "{body}: {}", reply.body);
        assert!(
            json(&reply)["error"].as_str().unwrap().contains(says),
            "{body}: {}",
            reply.body
        );
    }
    let none = get_authed(p.http, "/api/v1/jobs/12-34").await;
    assert_eq!(none.code, 404, "{}", none.body);
    let no_token = crate::support::http::post(
        p.http,
        "/api/v1/resync",
        None,
        Some(r#"{"collection": "orders"}"#),
    )
    .await
    .unwrap();
    assert_eq!(no_token.code, 401);

    let (code, _, err) = resync_cli(p, &["--collection", "ordres"]).await;
    assert_eq!(code, 1, "the server says no: {err}");
    assert!(err.contains("ordres"), "{err}");
    let (code, _, err) = resync_cli(p, &[]).await;
    assert_eq!(code, 2, "no --collection: {err}");
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, _, err) = cli(["resync", "--addr", &dead, "--collection", "orders"]
        .map(String::from)
        .to_vec())
    .await;
    assert_eq!(code, 3, "{err}");
}
