//! Issue 11 item 7: the initial copy creates each collection with the source's options (capped
//! size/max, validator with its level and action) and views as views, and `verify` reports a
//! collection whose options differ (exit 1, naming the collection and the option).

use crate::support::{
    all_documents, assert_identical, config, db_names, run_binary, write_config, Deployment,
    Replicator,
};
use bson::{doc, Document};
use mongo_replicator::bulk::listing::{self, Listed};
use mongo_replicator::error::Origin;
use std::time::Duration;

async fn listed(db: &mongodb::Database, cfg: &mongo_replicator::config::Config) -> Vec<Listed> {
    // `db` as a source listing shows it (into a database nothing reads).
    let elsewhere = db.client().database("listing_only");
    let collections = cfg.source.collections.as_deref();
    let side = mongo_replicator::source::Endpoint::between(db, &elsewhere, collections).0;
    let mut l = listing::list(&side, Origin::Target).await.unwrap();
    for c in &mut l {
        c.uuid = None; // each side has its own
    }
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_keeps_collection_options_and_views_and_verify_compares_them() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("collopts");
    let cfg = config(&dep.uri, &src, &dst);
    let source = dep.db(&src);
    let create = |cmd: Document| {
        let source = source.clone();
        async move { source.run_command(cmd).await.unwrap() }
    };
    create(doc! {"create": "capped", "capped": true, "size": 65536, "max": 100}).await;
    create(
        doc! {"create": "validated", "validator": {"a": {"$exists": true}},
        "validationLevel": "moderate", "validationAction": "warn"},
    )
    .await;
    create(doc! {"create": "v", "viewOn": "validated", "pipeline": [{"$match": {"a": 1}}]}).await;
    for name in ["capped", "validated"] {
        let docs: Vec<Document> = (0..10).map(|i| doc! {"_id": i, "a": i % 2}).collect();
        source
            .collection::<Document>(name)
            .insert_many(docs)
            .await
            .unwrap();
    }

    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    r.shutdown().await.unwrap();
    let target = dep.db(&dst);
    assert_eq!(listed(&target, &cfg).await, listed(&source, &cfg).await);
    assert_identical(&dep, &cfg).await;

    // The backup's capped collection becomes an ordinary one with the same documents.
    let capped = target.collection::<Document>("capped");
    let docs = all_documents(&capped).await;
    capped.drop().await.unwrap();
    capped.insert_many(docs).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let (code, out, err) = run_binary(&["verify", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "verify must report the difference: {out}{err}");
    let line = out
        .lines()
        .skip_while(|l| !l.starts_with("capped "))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        line.contains("DIFFERENT") && line.contains("option capped"),
        "{out}"
    );
}

/// A copy over an existing backup (a resync) makes the options `collMod` can change match the
/// source's (validator, level, action; a view's definition, by re-creating the view) and says
/// which ones it cannot change (`capped`), naming the collection and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_over_an_existing_backup_aligns_the_options_it_can_and_names_the_rest() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("collalign");
    let cfg = config(&dep.uri, &src, &dst);
    let (source, target) = (dep.db(&src), dep.db(&dst));
    let run =
        |db: mongodb::Database, cmd: Document| async move { db.run_command(cmd).await.unwrap() };
    run(
        source.clone(),
        doc! {"create": "capped", "capped": true, "size": 65536},
    )
    .await;
    run(
        source.clone(),
        doc! {"create": "validated", "validator": {"a": {"$exists": true}},
        "validationLevel": "moderate", "validationAction": "warn"},
    )
    .await;
    run(
        source.clone(),
        doc! {"create": "v", "viewOn": "validated", "pipeline": [{"$match": {"a": 1}}]},
    )
    .await;
    // The backup already holds the same names with other options (an operator changed them).
    run(target.clone(), doc! {"create": "capped"}).await;
    run(
        target.clone(),
        doc! {"create": "validated", "validator": {"b": {"$exists": true}}},
    )
    .await;
    run(
        target.clone(),
        doc! {"create": "v", "viewOn": "validated", "pipeline": []},
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let (code, out, err) = run_binary(&["copy", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "copy failed: {out}{err}");
    let named = format!("{out}{err}");
    assert!(
        named.contains("capped") && named.contains("cannot be changed") && named.contains("drop"),
        "the copy does not say which option it could not align, nor what to do: {named}"
    );
    let (code, out, _) = run_binary(&["verify", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "capped still differs: {out}");
    let report = |name: &str| {
        out.lines()
            .skip_while(|l| !l.starts_with(&format!("{name} ")))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(report("capped").contains("option capped"), "{out}");
    for name in ["validated", "v"] {
        assert!(
            !report(name).contains("DIFFERENT"),
            "{name} not aligned: {out}"
        );
    }
}
