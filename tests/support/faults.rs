//! Shared pieces of the reliability suite: short/long round counts, convergence between two
//! deployments, DDL traffic, and the counter checks every scenario ends with.

use mongo_replicator::config::Config;
use mongodb::{Client, Database};
use std::time::{Duration, Instant};

/// True under `LONG_TESTS=1`.
pub fn long() -> bool {
    std::env::var("LONG_TESTS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `short` in CI, `long` under `LONG_TESTS=1`.
pub fn rounds(short: usize, long_form: usize) -> usize {
    if long() {
        long_form
    } else {
        short
    }
}

/// A client for `uri` with short timeouts (tests talk to sides that come and go).
pub async fn client(uri: &str) -> Client {
    let mut opts = mongodb::options::ClientOptions::parse(uri).await.unwrap();
    opts.server_selection_timeout = Some(Duration::from_secs(30));
    Client::with_options(opts).unwrap()
}

/// Polls verify between two databases until identical, else panics with the last report.
pub async fn converge_between(cfg: &Config, source: &Database, target: &Database, limit: Duration) {
    let start = Instant::now();
    loop {
        match mongo_replicator::bulk::verify::verify_databases(cfg, source, target).await {
            Ok(r) if r.identical() && !r.collections.is_empty() => return,
            Ok(r) if start.elapsed() > limit => panic!("did not converge within {limit:?}:\n{r}"),
            Err(e) if start.elapsed() > limit => panic!("verify failed: {e}"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The counters every scenario ends with, from a `/metrics` body: caught up (lag 0, not
/// stalled, stream open, both sides up), something applied, and no conflict reported.
pub fn assert_settled(body: &str) {
    let v = |s: &str| super::metric_value(body, s);
    let applied: f64 = ["insert", "update", "replace", "delete"]
        .iter()
        .map(|op| {
            v(&format!(
                "mongo_replicator_events_applied_total{{op=\"{op}\"}}"
            ))
        })
        .sum::<f64>()
        + v("mongo_replicator_copy_documents_total");
    assert!(applied > 0.0, "nothing copied or applied:\n{body}");
    assert_eq!(v("mongo_replicator_lag_seconds"), 0.0, "lag:\n{body}");
    assert_eq!(v("mongo_replicator_stalled"), 0.0, "stalled:\n{body}");
    assert_eq!(v("mongo_replicator_stream_open"), 1.0, "stream:\n{body}");
    assert_eq!(
        v("mongo_replicator_up{side=\"source\"}"),
        1.0,
        "source up:\n{body}"
    );
    assert_eq!(
        v("mongo_replicator_up{side=\"target\"}"),
        1.0,
        "target up:\n{body}"
    );
    assert_eq!(
        v("mongo_replicator_errors_total{kind=\"conflict\"}"),
        0.0,
        "conflict:\n{body}"
    );
}

/// Waits until `/metrics` shows a settled replicator (lag 0 and both sides up), then checks it.
pub async fn settle(fetch: impl MetricsSource) {
    let start = Instant::now();
    loop {
        let body = fetch.body().await;
        let v = |s: &str| super::metric_value(&body, s);
        let ok = v("mongo_replicator_lag_seconds") == 0.0
            && v("mongo_replicator_up{side=\"source\"}") == 1.0
            && v("mongo_replicator_up{side=\"target\"}") == 1.0
            && v("mongo_replicator_stream_open") == 1.0;
        if ok || start.elapsed() > Duration::from_secs(30) {
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
    use mongodb::IndexModel;
    let names = ["d1", "d2", "d3"];
    let c = names[rng.gen_range(0..names.len())];
    let coll = db.collection::<Document>(c);
    match rng.gen_range(0..7) {
        0 => {
            let _ = coll
                .create_index(IndexModel::builder().keys(doc! {"k": 1}).build())
                .await;
        }
        1 => {
            let _ = coll.drop_index("k_1").await;
        }
        2 => {
            let to = names[rng.gen_range(0..names.len())];
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
