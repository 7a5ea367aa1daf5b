//! DDL while replicating (scenario 7 of docs/RELIABILITY.md): under continuous traffic, a
//! dropDatabase and recreate, renames with and without `dropTarget`, unique and plain index
//! builds and drops, and explicit creates with options all end byte-identical (documents and
//! indexes) with the same collection options; and each `apply.ddl` switch turned off leaves
//! exactly the target state it promises.

use crate::support::workload::{Traffic, TrafficPlan, Workload};
use crate::support::{
    config, converge, create_index as index, db_names, rename_collection, seed, wait_until,
    with_mode, Deployment, Replicator,
};
use bson::{doc, Document};
use mongo_replicator::config::{Config, DdlConfig, UpdateMode};
use mongodb::Database;
use std::collections::BTreeMap;
use std::time::Duration;

async fn insert(db: &Database, coll: &str, ids: std::ops::Range<i32>) {
    db.collection::<Document>(coll)
        .insert_many(ids.map(|i| doc! {"_id": i, "u": i, "k": i % 3}))
        .await
        .unwrap();
}

/// `name -> options` of every collection (what `create` carried: capped, validator, ...).
async fn collection_options(db: &Database) -> BTreeMap<String, Document> {
    let mut out = BTreeMap::new();
    let mut cursor = db
        .run_command(doc! {"listCollections": 1, "nameOnly": false})
        .await
        .unwrap()
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap()
        .clone();
    for spec in cursor.drain(..) {
        let spec = spec.as_document().unwrap().clone();
        // `idIndex` is listed beside `options` (the replicator forwards a create event's).
        let options = spec.get_document("options").cloned().unwrap_or_default();
        out.insert(spec.get_str("name").unwrap().to_string(), options);
    }
    out
}

async fn ddl_under_traffic(mode: UpdateMode) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ddltraffic");
    let cfg = with_mode(config(&dep.uri, &src, &dst), mode);
    let source = dep.db(&src);
    let s = seed();
    Workload::new(s).run(&source, 100).await;
    insert(&source, "ren_a", 0..20).await;
    insert(&source, "ren_c", 0..20).await;
    insert(&source, "ren_d", 100..110).await;
    let r = Replicator::start(&cfg).await;

    let traffic = Traffic::start(&source, s, TrafficPlan::new(10, Duration::ZERO));
    r.tailing(Duration::from_secs(30)).await;
    // Explicit creates with options, indexes unique and not, renames both ways.
    source
        .run_command(doc! {"create": "capped", "capped": true, "size": 1 << 20, "max": 50})
        .await
        .unwrap();
    source
        .run_command(doc! {"create": "validated", "validator": {"u": {"$type": "int"}}, "validationAction": "warn"})
        .await
        .unwrap();
    insert(&source, "capped", 0..80).await;
    insert(&source, "validated", 0..5).await;
    index(&source, "ren_a", doc! {"u": 1}, true).await;
    index(&source, "ren_a", doc! {"k": 1, "u": -1}, false).await;
    index(&source, "ren_c", doc! {"k": 1}, false).await;
    rename_collection(&dep, &src, "ren_a", "ren_b", false).await;
    insert(&source, "ren_b", 20..30).await;
    rename_collection(&dep, &src, "ren_c", "ren_d", true).await;
    insert(&source, "ren_d", 20..25).await;
    source
        .collection::<Document>("ren_d")
        .drop_index("k_1")
        .await
        .unwrap();
    source
        .collection::<Document>("ren_b")
        .drop_index("u_1")
        .await
        .unwrap();
    index(&source, "ren_b", doc! {"u": -1}, true).await;
    // The whole database goes while the workload writes, and comes back with the next writes.
    source.drop().await.unwrap();
    insert(&source, "after_drop", 0..10).await;
    index(&source, "after_drop", doc! {"u": 1}, true).await;
    source
        .run_command(doc! {"create": "capped2", "capped": true, "size": 4096})
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    traffic.stop().await;

    r.caught_up(Duration::from_secs(60)).await;
    converge(&dep, &cfg, Duration::from_secs(30)).await;
    let (source_opts, target_opts) = (
        collection_options(&source).await,
        collection_options(&dep.db(&dst)).await,
    );
    assert_eq!(source_opts, target_opts, "collection options differ");
    assert!(source_opts.contains_key("capped2") && source_opts.contains_key("after_drop"));
    assert!(!source_opts.contains_key("ren_a") && !source_opts.contains_key("capped"));
    crate::support::faults::settle(&r).await;
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_under_traffic_converges_in_delta_mode() {
    ddl_under_traffic(UpdateMode::Delta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_under_traffic_converges_in_full_document_mode() {
    ddl_under_traffic(UpdateMode::FullDocument).await;
}

/// One switch-off case: `cfg` with `off` applied, the same starting data on both sides
/// (`a` 0..5 with a unique index on `u`, `b` 0..3), the DDL, then a marker write to wait on.
struct Case {
    dep: Deployment,
    cfg: Config,
    r: Replicator,
}

impl Case {
    async fn start(tag: &str, off: impl FnOnce(&mut DdlConfig)) -> Case {
        let dep = Deployment::start().await;
        let (src, dst) = db_names(tag);
        let mut cfg = config(&dep.uri, &src, &dst);
        off(&mut cfg.apply.ddl);
        let source = dep.db(&src);
        insert(&source, "a", 0..5).await;
        index(&source, "a", doc! {"u": 1}, true).await;
        insert(&source, "b", 0..3).await;
        let r = Replicator::start(&cfg).await;
        r.tailing(Duration::from_secs(30)).await;
        Case { dep, cfg, r }
    }

    fn source(&self) -> Database {
        self.dep.db(&self.cfg.source.database)
    }

    fn target(&self) -> Database {
        self.dep.db(&self.cfg.target.database)
    }

    /// A marker insert after the DDL; once it is on the target, the DDL event was handled.
    async fn settle(&self) {
        insert(&self.source(), "marker", 0..1).await;
        let marker = self.target().collection::<Document>("marker");
        wait_until("the marker", Duration::from_secs(30), || async {
            marker.count_documents(doc! {}).await.unwrap_or(0) == 1
        })
        .await;
    }

    /// `name -> sorted _ids` of every target collection but the marker.
    async fn target_ids(&self) -> BTreeMap<String, Vec<i32>> {
        let mut out = BTreeMap::new();
        for name in self.target().list_collection_names().await.unwrap() {
            if name == "marker" {
                continue;
            }
            let mut ids: Vec<i32> = self
                .target()
                .collection::<Document>(&name)
                .distinct("_id", doc! {})
                .await
                .unwrap()
                .iter()
                .map(|b| b.as_i32().unwrap())
                .collect();
            ids.sort();
            out.insert(name, ids);
        }
        out
    }

    async fn target_index_names(&self, coll: &str) -> Vec<String> {
        let mut names = self
            .target()
            .collection::<Document>(coll)
            .list_index_names()
            .await
            .unwrap();
        names.sort();
        names
    }

    async fn finish(self) {
        self.r.shutdown().await.unwrap();
    }
}

fn ids(r: std::ops::Range<i32>) -> Vec<i32> {
    r.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ddl_switch_off_keeps_the_target_as_promised() {
    // drop = false: the dropped collection stays with its data; a recreate adds to it.
    let c = Case::start("offdrop", |d| d.drop = false).await;
    c.source().collection::<Document>("a").drop().await.unwrap();
    insert(&c.source(), "a", 10..12).await;
    c.settle().await;
    let want = BTreeMap::from([
        ("a".to_string(), [ids(0..5), ids(10..12)].concat()),
        ("b".to_string(), ids(0..3)),
    ]);
    assert_eq!(c.target_ids().await, want, "drop = false");
    c.finish().await;

    // rename = false: the old name keeps its data; the new name only gets later writes.
    let c = Case::start("offrename", |d| d.rename = false).await;
    rename_collection(&c.dep, &c.cfg.source.database, "a", "a2", false).await;
    insert(&c.source(), "a2", 20..22).await;
    c.settle().await;
    let want = BTreeMap::from([
        ("a".to_string(), ids(0..5)),
        ("a2".to_string(), ids(20..22)),
        ("b".to_string(), ids(0..3)),
    ]);
    assert_eq!(c.target_ids().await, want, "rename = false");
    c.finish().await;

    // drop_database = false: a server announces each collection's drop first (real MongoDB
    // and the testbed alike), then dropDatabase; the replicator holds consecutive drops until
    // it sees whether a dropDatabase follows, so even with `drop` on the backup keeps all.
    let c = Case::start("offdropdb", |d| d.drop_database = false).await;
    insert(&c.target(), "target_only", 0..2).await;
    c.source().drop().await.unwrap();
    c.settle().await;
    let want = BTreeMap::from([
        ("a".to_string(), ids(0..5)),
        ("b".to_string(), ids(0..3)),
        ("target_only".to_string(), ids(0..2)),
    ]);
    assert_eq!(
        c.target_ids().await,
        want,
        "drop_database = false, drop = true"
    );
    c.finish().await;

    // drop_database = false with drop = false: the backup keeps everything.
    let c = Case::start("offdropdb2", |d| {
        d.drop_database = false;
        d.drop = false;
    })
    .await;
    c.source().drop().await.unwrap();
    c.settle().await;
    let want = BTreeMap::from([("a".to_string(), ids(0..5)), ("b".to_string(), ids(0..3))]);
    assert_eq!(c.target_ids().await, want, "drop_database = drop = false");
    assert_eq!(c.target_index_names("a").await, ["_id_", "u_1"]);
    c.finish().await;

    // create = false: an explicit create with options does not reach the target; a later
    // insert creates the collection there implicitly, without the options.
    let c = Case::start("offcreate", |d| d.create = false).await;
    c.source()
        .run_command(doc! {"create": "capped", "capped": true, "size": 4096})
        .await
        .unwrap();
    c.source().create_collection("empty").await.unwrap();
    insert(&c.source(), "capped", 0..2).await;
    c.settle().await;
    let opts = collection_options(&c.target()).await;
    assert!(!opts.contains_key("empty"), "create = false: {opts:?}");
    assert_eq!(
        opts.get("capped").map(|o| o.contains_key("capped")),
        Some(false),
        "create = false: the backup's collection must not be capped: {opts:?}"
    );
    c.finish().await;

    // create_indexes = false: the documents follow, the new index does not.
    let c = Case::start("offcreateix", |d| d.create_indexes = false).await;
    index(&c.source(), "b", doc! {"k": 1}, false).await;
    index(&c.source(), "b", doc! {"u": 1}, true).await;
    insert(&c.source(), "b", 3..5).await;
    c.settle().await;
    assert_eq!(c.target_index_names("b").await, ["_id_"]);
    assert_eq!(c.target_ids().await["b"], ids(0..5));
    c.finish().await;

    // drop_indexes = false: the index dropped on the source stays on the target.
    let c = Case::start("offdropix", |d| d.drop_indexes = false).await;
    assert_eq!(c.target_index_names("a").await, ["_id_", "u_1"]);
    c.source()
        .collection::<Document>("a")
        .drop_index("u_1")
        .await
        .unwrap();
    c.settle().await;
    assert_eq!(c.target_index_names("a").await, ["_id_", "u_1"]);
    c.finish().await;
}
