//! Shared pieces of the fault scenarios: clients for sides that come and go, random DDL steps,
//! and the counter checks every scenario ends with.

use super::http::{metric_sum, metric_value, series};
use mongo_replicator::ops::metrics::names;
use mongodb::{Client, Database};
use std::time::{Duration, Instant};

/// A client for `uri` with short timeouts (tests talk to sides that come and go).
pub async fn client(uri: &str) -> Client {
    let mut opts = mongodb::options::ClientOptions::parse(uri).await.unwrap();
    opts.server_selection_timeout = Some(Duration::from_secs(30));
    Client::with_options(opts).unwrap()
}

/// True when a `/metrics` body shows a caught-up replicator: lag 0, the stream open, both
/// sides up.
pub fn caught_up(body: &str) -> bool {
    let v = |s: &str| metric_value(body, s);
    v(names::LAG_SECONDS) == 0.0
        && v(names::STREAM_OPEN) == 1.0
        && v(&series(names::UP, "side", "source")) == 1.0
        && v(&series(names::UP, "side", "target")) == 1.0
}

/// The counters every scenario ends with, from a `/metrics` body: caught up (lag 0, not
/// stalled, stream open, both sides up), something copied or applied, and no conflict reported.
pub fn assert_settled(body: &str) {
    let v = |s: &str| metric_value(body, s);
    // Both counters are labelled (by op, by collection): summed over every series.
    let applied = metric_sum(body, names::EVENTS_APPLIED_TOTAL);
    let copied = metric_sum(body, names::COPY_DOCUMENTS_TOTAL);
    assert!(applied + copied > 0.0, "nothing copied or applied:\n{body}");
    assert_eq!(v(names::LAG_SECONDS), 0.0, "lag:\n{body}");
    assert_eq!(v(names::STALLED), 0.0, "stalled:\n{body}");
    assert_eq!(v(names::STREAM_OPEN), 1.0, "stream:\n{body}");
    for side in ["source", "target"] {
        assert_eq!(
            v(&series(names::UP, "side", side)),
            1.0,
            "{side} up:\n{body}"
        );
    }
    assert_eq!(
        v(&series(names::ERRORS_TOTAL, "kind", "conflict")),
        0.0,
        "conflict:\n{body}"
    );
}

/// Waits until `/metrics` shows a caught-up replicator (30 s at most), then checks every
/// counter of [`assert_settled`].
pub async fn settle(fetch: impl MetricsSource) {
    let start = Instant::now();
    loop {
        let body = fetch.body().await;
        if caught_up(&body) || start.elapsed() > Duration::from_secs(30) {
            assert_settled(&body);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Something that serves `/metrics` (the in-process replicator or the binary).
pub trait MetricsSource {
    fn body(&self) -> impl std::future::Future<Output = String>;
}

impl MetricsSource for &super::Replicator {
    async fn body(&self) -> String {
        self.get("/metrics").await.1
    }
}

impl MetricsSource for &super::procs::ReplicatorProcess {
    async fn body(&self) -> String {
        self.get("/metrics").await.map(|r| r.1).unwrap_or_default()
    }
}

/// One random DDL step on the source (create/drop index, rename, drop, recreate, create);
/// failures (e.g. renaming what a previous step dropped) are fine: they emit nothing.
pub async fn ddl_step(db: &Database, rng: &mut impl rand::Rng) {
    use bson::{doc, Document};
    let colls = ["d1", "d2", "d3"];
    let c = colls[rng.gen_range(0..colls.len())];
    let coll = db.collection::<Document>(c);
    match rng.gen_range(0..7) {
        0 => {
            let _ = coll
                .create_index(mongodb::IndexModel::builder().keys(doc! {"k": 1}).build())
                .await;
        }
        1 => {
            let _ = coll.drop_index("k_1").await;
        }
        2 => {
            let to = colls[rng.gen_range(0..colls.len())];
            let _ = db
                .client()
                .database("admin")
                .run_command(doc! {"renameCollection": format!("{}.{c}", db.name()), "to": format!("{}.{to}", db.name()), "dropTarget": true})
                .await;
        }
        3 => {
            let _ = coll.drop().await;
        }
        4 => {
            let _ = db.create_collection(c).await;
        }
        _ => {
            let docs: Vec<Document> = (0..rng.gen_range(1..20))
                .map(|_| doc! {"_id": rng.gen::<i32>(), "k": rng.gen_range(0..5)})
                .collect();
            let _ = coll.insert_many(docs).ordered(false).await;
        }
    }
}

/// Runs `copy --config path` against `dep` with the replicator's `after`+1-th insert refused
/// (fatal code 13): the copy stops after `after` batches, progress saved per batch, as a
/// `kill -9` there would leave it. Panics unless the copy exited non-zero.
pub async fn interrupted_copy(dep: &super::Deployment, path: &std::path::Path, after: i32) {
    let admin = dep.client.database("admin");
    admin
        .run_command(
            bson::doc! {"configureFailPoint": "failCommand", "mode": {"skip": after},
            "data": {"failCommands": ["insert"], "appName": "mongo-replicator", "errorCode": 13}},
        )
        .await
        .unwrap();
    let (code, _, stderr) = super::run_binary(&["copy", "--config", path.to_str().unwrap()], &[]);
    admin
        .run_command(bson::doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap();
    assert_ne!(code, 0, "the copy must stop at the refused batch: {stderr}");
}
