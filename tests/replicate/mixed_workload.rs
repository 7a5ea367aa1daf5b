//! End to end through TCP with the official driver: a mixed random workload running during the
//! copy and during the tail ends identical, in both update modes; documents whose field names
//! are not paths (`$`-prefixed, dotted) are tailed exactly.

use crate::support::workload::{Traffic, TrafficPlan, Workload};
use crate::support::{
    assert_identical, config, converge, db_names, seed, wait_until, with_mode, Deployment,
    Replicator,
};
use bson::{doc, Document};
use mongo_replicator::config::UpdateMode;
use std::time::Duration;

async fn converges(mode: UpdateMode, tag: &str) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let cfg = with_mode(config(&dep.uri, &src, &dst), mode);
    let source = dep.db(&src);
    let s = seed();
    let mut workload = Workload::new(s);
    workload.run(&source, 600).await; // before the copy

    // During the copy and the tail.
    let concurrent = Traffic::start(
        &source,
        s,
        TrafficPlan {
            rounds: Some(1),
            ..TrafficPlan::new(1500, Duration::ZERO)
        },
    );
    let replicator = Replicator::start(&cfg).await;
    concurrent.finish().await;
    workload.run(&source, 500).await; // while tailing
    replicator.caught_up(Duration::from_secs(60)).await;
    assert_identical(&dep, &cfg).await;
    let applied = replicator.reporter.status.to_json()["events_applied"].clone();
    assert!(
        applied["insert"].as_u64().unwrap_or(0) > 0,
        "no inserts applied: {applied}"
    );
    replicator.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_workload_converges_in_delta_mode() {
    converges(UpdateMode::Delta, "delta").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_workload_converges_in_full_document_mode() {
    converges(UpdateMode::FullDocument, "full").await;
}

/// While tailing: inserts, updates (operators and pipelines) and replacements of documents with
/// top-level `$`-prefixed names (legal since MongoDB 5.0; written as `$replaceWith {$literal}`
/// pipelines), dotted names and nested `$` names; the target ends byte-identical.
async fn tails_dollar_and_dotted_names(mode: UpdateMode, tag: &str) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let cfg = with_mode(config(&dep.uri, &src, &dst), mode);
    let coll = dep.db(&src).collection::<Document>("names");
    coll.insert_one(doc! {"_id": 0, "plain": true})
        .await
        .unwrap();
    let replicator = Replicator::start(&cfg).await;
    replicator.tailing(Duration::from_secs(60)).await;

    coll.insert_many([
        doc! {"_id": 1, "$price": 5, "a": 1},
        doc! {"_id": 2, "a.b": 1, "x": 1},
        doc! {"_id": 3, "n": {"$q": 1, "r.s": 2}},
        doc! {"_id": 4, "$price": 1, "a.b": {"c": 1}, "n": {"$q": [1]}},
    ])
    .await
    .unwrap();
    // The replicator writes a document with a top-level `$` name as an upsert whose `u` is the
    // pipeline `[{$replaceWith: {$literal: doc}}]`: a server without pipeline updates fails here.
    converge(&dep, &cfg, Duration::from_secs(30)).await;
    // Operator updates of fields that are paths, on documents that hold others.
    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"a": 2}, "$inc": {"z": 1}})
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 2}, doc! {"$set": {"x": 2}})
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 3}, doc! {"$set": {"n.t": 3}})
        .await
        .unwrap();
    // Pipeline updates of a `$` name (an `update` event naming it), a dotted name (a `replace`
    // event), and a nested `$` name.
    let set_field = |field: &str, value: i32| {
        vec![doc! {"$replaceWith": {"$setField": {
        "field": {"$literal": field}, "value": value, "input": "$$ROOT"}}}]
    };
    coll.update_one(doc! {"_id": 1}, set_field("$price", 6))
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 2}, set_field("a.b", 7))
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 4}, set_field("$new", 1))
        .await
        .unwrap();
    coll.update_one(
        doc! {"_id": 3},
        vec![doc! {"$set": {"n": {"$setField": {
        "field": {"$literal": "$q"}, "value": 9, "input": "$n"}}}}],
    )
    .await
    .unwrap();
    // Replacements: by the driver (no top-level `$`), and by a reordering literal pipeline.
    coll.replace_one(doc! {"_id": 2}, doc! {"y.z": 1, "n": {"$w": 1}})
        .await
        .unwrap();
    coll.update_one(
        doc! {"_id": 4},
        vec![doc! {"$replaceWith": {"$literal": {"n": 1, "$price": 2, "_id": 4}}}],
    )
    .await
    .unwrap();
    coll.insert_one(doc! {"_id": 5, "$gone": 1}).await.unwrap();
    coll.delete_one(doc! {"_id": 5}).await.unwrap();

    converge(&dep, &cfg, Duration::from_secs(60)).await;
    let target = dep.db(&dst).collection::<Document>("names");
    assert_eq!(
        target.find_one(doc! {"_id": 4}).await.unwrap(),
        Some(doc! {"_id": 4, "n": 1, "$price": 2}),
        "the target holds the `$` names"
    );
    // `verify` can agree before the last events are applied (an insert and delete of one
    // `_id` leave nothing to compare): wait for every kind to be counted.
    let applied = || replicator.reporter.status.to_json()["events_applied"].clone();
    wait_until("every kind applied", Duration::from_secs(60), || async {
        let applied = applied();
        ["insert", "update", "replace", "delete"]
            .iter()
            .all(|op| applied[op].as_u64().unwrap_or(0) > 0)
    })
    .await;
    replicator.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dollar_and_dotted_field_names_tail_in_delta_mode() {
    tails_dollar_and_dotted_names(UpdateMode::Delta, "names_delta").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dollar_and_dotted_field_names_tail_in_full_document_mode() {
    tails_dollar_and_dotted_names(UpdateMode::FullDocument, "names_full").await;
}
