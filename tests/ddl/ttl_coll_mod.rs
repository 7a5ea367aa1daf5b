//! TTL indexes and `collMod` (issue 11 items 5 and 6). The backup never expires documents on
//! its own (the source's expiry deletes arrive as events): a lag longer than a TTL while the
//! source refreshes the document must not lose it. `collMod` (validator, validation
//! level/action, an index's `hidden` and TTL, `changeStreamPreAndPostImages`) reaches the backup
//! unless `apply.ddl.modify` is off; TTL values are recorded in the checkpoint, never applied.

use crate::support::{config, db_names, Deployment, Replicator};
use bson::{doc, Bson, DateTime, Document};
use mongo_replicator::config::Config;
use mongodb::Database;
use std::time::Duration;

/// TTL of the test indexes: short, so a stopped replicator lags past it.
const TTL_SECS: i32 = 3;

async fn indexes(db: &Database, coll: &str) -> Vec<Document> {
    db.run_command(doc! {"listIndexes": coll})
        .await
        .unwrap()
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|b| b.iter().filter_map(|d| d.as_document().cloned()).collect())
        .unwrap_or_default()
}

async fn index(db: &Database, coll: &str, name: &str) -> Option<Document> {
    indexes(db, coll)
        .await
        .into_iter()
        .find(|i| i.get_str("name") == Ok(name))
}

async fn options(db: &Database, coll: &str) -> Document {
    let info = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": coll}})
        .await
        .unwrap();
    info.get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .ok()
        .and_then(|b| b.first())
        .and_then(|d| d.as_document())
        .and_then(|d| d.get_document("options").ok())
        .cloned()
        .unwrap_or_default()
}

/// The stored checkpoint's TTL records as `(collection, name, seconds)`.
async fn recorded_ttls(dep: &Deployment, cfg: &Config) -> Vec<(String, String, i64)> {
    let store = mongo_replicator::state::store::open(cfg, &dep.client).unwrap();
    let cp = store.load().await.unwrap().expect("a checkpoint");
    let mut v: Vec<_> = cp
        .ttl_indexes
        .iter()
        .map(|t| (t.collection.clone(), t.name.clone(), t.expire_after_seconds))
        .collect();
    v.sort();
    v
}

async fn create_ttl_index(db: &Database, coll: &str) {
    db.run_command(doc! {"createIndexes": coll, "indexes": [{"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": TTL_SECS}]})
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lag_past_the_ttl_does_not_lose_refreshed_documents() {
    let dep = Deployment::start().await;
    // A TTL pass every second (mongod and the testbed both take it at runtime).
    dep.client
        .database("admin")
        .run_command(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 1})
        .await
        .unwrap();
    let (src, dst) = db_names("ttl");
    let cfg = config(&dep.uri, &src, &dst);
    let (source, target) = (dep.db(&src), dep.db(&dst));
    // `copied` has its TTL index before the copy; `evented` gets it from a createIndexes event.
    create_ttl_index(&source, "copied").await;
    for c in ["copied", "evented"] {
        source
            .collection::<Document>(c)
            .insert_one(doc! {"_id": 1, "at": DateTime::now(), "n": 0})
            .await
            .unwrap();
    }
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    create_ttl_index(&source, "evented").await;
    r.caught_up(Duration::from_secs(30)).await;
    r.shutdown().await.unwrap();

    // The source keeps its documents alive while the replicator is stopped for 3 TTLs.
    let refresh = {
        let source = source.clone();
        tokio::spawn(async move {
            for n in 1.. {
                for c in ["copied", "evented"] {
                    source
                        .collection::<Document>(c)
                        .update_one(
                            doc! {"_id": 1},
                            doc! {"$set": {"at": DateTime::now(), "n": n}},
                        )
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3 * TTL_SECS as u64)).await;
    let r = Replicator::start(&cfg).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    refresh.abort();
    r.caught_up(Duration::from_secs(30)).await;
    for c in ["copied", "evented"] {
        let on_source = source
            .collection::<Document>(c)
            .find_one(doc! {"_id": 1})
            .await
            .unwrap();
        assert!(on_source.is_some(), "{c}: the source refreshed it");
        let on_target = target
            .collection::<Document>(c)
            .find_one(doc! {"_id": 1})
            .await
            .unwrap();
        assert_eq!(
            on_target, on_source,
            "{c}: the backup expired a document the source still has"
        );
        let idx = index(&target, c, "at_1")
            .await
            .expect("the index is on the backup");
        assert_eq!(idx.get_document("key"), Ok(&doc! {"at": 1}), "{idx}");
        assert!(
            !idx.contains_key("expireAfterSeconds"),
            "{c}: a live TTL on the backup: {idx}"
        );
    }
    assert_eq!(
        recorded_ttls(&dep, &cfg).await,
        [
            ("copied".into(), "at_1".into(), TTL_SECS as i64),
            ("evented".into(), "at_1".into(), TTL_SECS as i64)
        ],
        "the source's TTLs are recorded for a restore"
    );
    r.shutdown().await.unwrap();
}

/// The options and index flags `collMod` changes, on one collection.
async fn modified_state(db: &Database) -> (Document, Option<Bson>, Option<Document>) {
    let opts = options(db, "c").await;
    let x = index(db, "c", "x_1").await;
    let hidden = x.and_then(|i| i.get("hidden").cloned());
    (opts, hidden, index(db, "c", "at_1").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coll_mod_is_replicated_unless_switched_off() {
    let dep = Deployment::start().await;
    for modify in [true, false] {
        let (src, dst) = db_names("collmod");
        let mut cfg = config(&dep.uri, &src, &dst);
        cfg.apply.ddl.modify = modify;
        let (source, target) = (dep.db(&src), dep.db(&dst));
        source
            .collection::<Document>("other")
            .insert_one(doc! {"_id": 1})
            .await
            .unwrap();
        let r = Replicator::start(&cfg).await;
        r.caught_up(Duration::from_secs(30)).await;
        source
            .run_command(doc! {"create": "c", "validator": {"a": {"$exists": true}}})
            .await
            .unwrap();
        source
            .run_command(doc! {"createIndexes": "c", "indexes": [
                {"key": {"x": 1}, "name": "x_1"},
                {"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 3600},
            ]})
            .await
            .unwrap();
        source
            .collection::<Document>("c")
            .insert_one(doc! {"_id": 1, "a": 1})
            .await
            .unwrap();
        r.caught_up(Duration::from_secs(30)).await;
        let before = modified_state(&target).await;
        for cmd in [
            doc! {"collMod": "c", "validator": {"b": {"$exists": true}}, "validationLevel": "moderate", "validationAction": "warn"},
            doc! {"collMod": "c", "index": {"name": "x_1", "hidden": true}},
            doc! {"collMod": "c", "index": {"keyPattern": {"at": 1}, "expireAfterSeconds": 60}},
            doc! {"collMod": "c", "changeStreamPreAndPostImages": {"enabled": true}},
        ] {
            source.run_command(cmd).await.unwrap();
        }
        source
            .collection::<Document>("c")
            .insert_one(doc! {"_id": 2, "b": 1})
            .await
            .unwrap();
        r.caught_up(Duration::from_secs(30)).await;
        let (opts, hidden, at) = modified_state(&target).await;
        let at = at.expect("at_1 on the backup");
        if modify {
            let (src_opts, src_hidden, _) = modified_state(&source).await;
            assert_eq!(opts, src_opts, "collection options follow collMod");
            assert_eq!(hidden, src_hidden, "x_1 hidden as on the source");
            assert_eq!(hidden, Some(Bson::Boolean(true)));
            assert!(!at.contains_key("expireAfterSeconds"), "{at}");
            assert_eq!(
                recorded_ttls(&dep, &cfg).await,
                [("c".into(), "at_1".into(), 60)],
                "the new TTL is recorded"
            );
        } else {
            assert_eq!(
                (opts, hidden),
                (before.0, before.1),
                "modify = false keeps the backup"
            );
            assert!(!at.contains_key("expireAfterSeconds"), "{at}");
            assert_eq!(
                recorded_ttls(&dep, &cfg).await,
                [("c".into(), "at_1".into(), 3600)]
            );
        }
        let n = target
            .collection::<Document>("c")
            .count_documents(doc! {})
            .await;
        assert_eq!(n.unwrap(), 2, "both inserts reached the backup");
        r.shutdown().await.unwrap();
    }
}
