//! How the replicator writes to the target (issue 11, items 3, 8 and 14): writes bypass the
//! backup's validators (the source already validated what it accepted), every write states
//! `target.write_concern`, and reads of the source go to the primary whatever the URI says.

use crate::support::{config, converge, db_names, Deployment, Replicator};
use bson::{doc, Document};
use mongo_replicator::config::{CheckpointStoreKind, WriteConcernSetting};
use std::time::Duration;

/// Waits for the end of the initial copy; a replicator that stopped instead says why.
async fn tailing_or_why(r: &mut Replicator, limit: Duration) {
    let start = std::time::Instant::now();
    while r.phase() != "tailing" {
        if r.job.is_finished() {
            panic!("replicator stopped: {:?}", (&mut r.job).await);
        }
        assert!(start.elapsed() < limit, "not tailing after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The embedded one-member testbed and a configuration on it; `None` (skipped, saying `why`)
/// on a real replica set, whose members these tests cannot count on.
async fn on_testbed(
    tag: &str,
    why: &str,
) -> Option<(Deployment, mongo_replicator::config::Config)> {
    let dep = Deployment::start().await;
    if dep.testbed.is_none() {
        eprintln!("skipped: {why}");
        return None;
    }
    let (src, dst) = db_names(tag);
    let cfg = config(&dep.uri, &src, &dst);
    Some((dep, cfg))
}

/// Documents the source accepted with `bypassDocumentValidation` (or before its validator
/// tightened) are refused by the same validator on the backup unless the replicator bypasses it
/// too: the copy's inserts, the tail's upserts and replacements must all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_a_validator_refuses_are_replicated_bypassing_it() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("bypass");
    let cfg = config(&dep.uri, &src, &dst);
    let validator = doc! {"create": "strict", "validator": {"a": {"$type": "int"}}};
    let (source, target) = (dep.db(&src), dep.db(&dst));
    source.run_command(validator.clone()).await.unwrap();
    target.run_command(validator).await.unwrap();
    let strict = source.collection::<Document>("strict");
    strict
        .insert_many([doc! {"_id": 1, "a": "one"}, doc! {"_id": 2, "a": 2}])
        .bypass_document_validation(true)
        .await
        .unwrap();
    let mut r = Replicator::start(&cfg).await;
    tailing_or_why(&mut r, Duration::from_secs(30)).await;
    strict
        .insert_one(doc! {"_id": 3, "a": "three"})
        .bypass_document_validation(true)
        .await
        .unwrap();
    strict
        .update_one(doc! {"_id": 2}, doc! {"$set": {"a": "two"}})
        .bypass_document_validation(true)
        .await
        .unwrap();
    strict
        .replace_one(doc! {"_id": 1}, doc! {"a": "uno", "b": 1})
        .bypass_document_validation(true)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    if r.job.is_finished() {
        panic!("replicator stopped: {:?}", (&mut r.job).await);
    }
    r.caught_up(Duration::from_secs(30)).await;
    converge(&dep, &cfg, Duration::from_secs(20)).await;
    let held = target.collection::<Document>("strict");
    assert_eq!(held.count_documents(doc! {}).await.unwrap(), 3);
    assert_eq!(
        held.find_one(doc! {"_id": 2}).await.unwrap(),
        Some(doc! {"_id": 2, "a": "two"})
    );
    r.shutdown().await.unwrap();
}

/// `readPreference=secondary` in the source URI must not send the copy, the change stream or
/// the fetches to a secondary (a lagging one makes events count as applied without their
/// change): on the one-member testbed there is no secondary, so reads that follow the URI fail
/// server selection, while reads of the primary replicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_reads_go_to_the_primary_whatever_the_uri_says() {
    let Some((dep, mut cfg)) = on_testbed("primary", "a real replica set has secondaries").await
    else {
        return;
    };
    let src = cfg.source.database.clone();
    cfg.source.uri = mongo_replicator::config::ConnectionString::new(format!(
        "{}&readPreference=secondary&serverSelectionTimeoutMS=1500",
        dep.uri
    ));
    let orders = dep.db(&src).collection::<Document>("orders");
    orders
        .insert_many((0..50).map(|i| doc! {"_id": i, "v": 0}))
        .await
        .unwrap();
    let mut r = Replicator::start(&cfg).await;
    tailing_or_why(&mut r, Duration::from_secs(30)).await;
    orders.insert_one(doc! {"_id": 50, "v": 1}).await.unwrap();
    orders
        .update_many(doc! {"_id": {"$lt": 10}}, doc! {"$inc": {"v": 1}})
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    converge(&dep, &cfg, Duration::from_secs(20)).await;
    r.shutdown().await.unwrap();
}

/// Every write to the target states `target.write_concern`: on the one-member testbed `w: 2`
/// cannot be met (UnsatisfiableWriteConcern, 100, as mongod answers), so the run stops at its
/// first write to the target with a configuration error naming the key, instead of
/// replicating with a write concern nobody asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_concern_the_target_cannot_meet_stops_the_run_naming_the_key() {
    let Some((dep, mut cfg)) = on_testbed("wc", "a real replica set may have two members").await
    else {
        return;
    };
    let src = cfg.source.database.clone();
    cfg.target.write_concern = WriteConcernSetting::Nodes(2);
    // The copy's insert is the first write to the target (the checkpoint is in a file).
    let dir = tempfile::tempdir().unwrap();
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(dir.path().join("checkpoint.json"));
    let orders = dep.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": 1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), r.job).await;
    let e = stopped
        .expect("the run must stop on an unsatisfiable write concern")
        .unwrap()
        .expect_err("an error");
    assert_eq!(e.code, Some(100), "{e}");
    assert_eq!(e.context, "target.write_concern", "{e}");
    assert!(
        e.to_string().contains("Not enough data-bearing nodes"),
        "{e}"
    );
}
