//! The continuous verifier under `[[namespaces]]`: it compares each key's source collection
//! with its mapped target (here a renamed one), reports a divergence by key, and repairs it
//! there.

use super::{divergences, start, verify_config, WAIT};
use crate::support::{documents, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::source::namespaces::NamespaceRule;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damage_on_a_renamed_target_is_found_by_key_and_repaired_there() {
    let dir = tempfile::tempdir().unwrap();
    let dep = Deployment::start().await;
    let mut cfg = verify_config(&dep, "vfy_ns", 4000);
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    cfg.namespaces = vec![NamespaceRule {
        source: format!("{src}.orders"),
        target: Some(format!("{dst}.orders_archive")),
        exclude: false,
    }];
    let source = dep.db(&src).collection::<Document>("orders");
    source
        .insert_many((0..200).map(|i| doc! {"_id": i, "v": 0}))
        .await
        .unwrap();
    let p = start(dir.path(), &cfg).await;
    let archive = dep.db(&dst).collection::<Document>("orders_archive");
    wait_until("the copy into orders_archive", WAIT, || async {
        archive.count_documents(doc! {}).await.unwrap() == 200
    })
    .await;
    archive.delete_one(doc! {"_id": 7}).await.unwrap();
    archive
        .update_one(doc! {"_id": 8}, doc! {"$set": {"v": 99}})
        .await
        .unwrap();
    wait_until(
        "both damages reported by key and repaired",
        WAIT,
        || async {
            let list = divergences(&p).await;
            let found: Vec<(String, String, bool)> = list["divergences"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|d| {
                            let kind = d["kind"].as_str().unwrap_or("").to_string();
                            let coll = d["collection"].as_str().unwrap_or("").to_string();
                            (kind, coll, d["repaired"].as_bool().unwrap_or(false))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let want = |kind: &str| found.contains(&(kind.into(), "orders".into(), true));
            want("missing") && want("different")
        },
    )
    .await;
    wait_until("orders_archive equals orders again", WAIT, || async {
        documents(&dep.db(&dst), "orders_archive").await == documents(&dep.db(&src), "orders").await
    })
    .await;
    assert!(
        !dep.db(&dst)
            .list_collection_names()
            .await
            .unwrap()
            .contains(&"orders".to_string()),
        "nothing is written under the source's name"
    );
}
