//! Issue 11 item 10: with a non-default collation the server orders string `_id`s by it, while
//! the merge join of `verify` and of the resync prune compares them byte by byte: a document
//! missing on one side made documents both sides have look missing and extra (and the prune
//! deleted them). Both sides must be read in the one order the join compares in.

use crate::support::{all_documents, config, db_names, verify, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::Config;

/// Source and target databases each with a collection `c` collated case-insensitively (in its
/// order a < B < c; byte by byte B < a < c), holding `source` and `target` string `_id`s.
async fn collated(tag: &str, source: &[&str], target: &[&str]) -> (Deployment, Config) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let cfg = config(&dep.uri, &src, &dst);
    for (db, ids) in [(&src, source), (&dst, target)] {
        let db = dep.db(db);
        db.run_command(doc! {"create": "c", "collation": {"locale": "en", "strength": 2}})
            .await
            .unwrap();
        let docs: Vec<Document> = ids.iter().map(|i| doc! {"_id": *i}).collect();
        db.collection::<Document>("c")
            .insert_many(docs)
            .await
            .unwrap();
    }
    (dep, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_pairs_ids_of_a_collection_with_a_case_insensitive_collation() {
    let (dep, cfg) = collated("collation", &["a", "B", "c"], &["B", "c"]).await;
    let report = verify(&dep, &cfg).await;
    let c = &report.collections[0];
    assert_eq!(
        (c.missing, c.extra, c.different, c.first_missing.clone()),
        (1, 0, 0, vec!["\"a\"".to_string()]),
        "{report}"
    );
}

/// The resync prune deletes only what the source no longer has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resync_prune_keeps_ids_of_a_collated_collection_the_source_has() {
    let (dep, cfg) = collated("collprune", &["a", "B", "c"], &["B", "c", "z"]).await;
    let service = mongo_replicator::ops::Service::start(&cfg).await.unwrap();
    let (source, target) = (dep.db(&cfg.source.database), dep.db(&cfg.target.database));
    let (s, t) = mongo_replicator::source::Endpoint::between(&source, &target, None);
    mongo_replicator::bulk::resync::prune_extras(
        &cfg,
        &s,
        &t,
        &service.reporter,
        &Default::default(),
    )
    .await
    .unwrap();
    let left: Vec<String> = all_documents(&target.collection::<Document>("c"))
        .await
        .iter()
        .map(|d| d.get_str("_id").unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 2, "only z pruned: {left:?}");
    assert!(
        left.contains(&"B".to_string()),
        "B pruned though the source has it: {left:?}"
    );
}
