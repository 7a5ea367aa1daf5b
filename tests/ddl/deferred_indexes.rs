//! Unique indexes the copy deferred follow the DDL the tail replays before they are built
//! (issue 11 item 16): an index the source dropped, or whose collection it dropped or renamed,
//! after the copy listed it must not appear on the backup under its old place.

use crate::support::{assert_identical, config, create_index, db_names, rename_collection};
use crate::support::{wait_until, Deployment, Replicator};
use bson::{doc, Document};
use std::time::Duration;

async fn index_names(db: &mongodb::Database, coll: &str) -> Vec<String> {
    db.collection::<Document>(coll)
        .list_index_names()
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_unique_indexes_follow_later_drops_and_renames() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("deferred");
    let cfg = config(&dep.uri, &src, &dst);
    let (source, target) = (dep.db(&src), dep.db(&dst));
    for c in ["index_dropped", "coll_dropped", "renamed", "kept"] {
        source
            .collection::<Document>(c)
            .insert_many((0..5).map(|i| doc! {"_id": i, "email": format!("{c}{i}@x")}))
            .await
            .unwrap();
        create_index(&source, c, doc! {"email": 1}, true).await;
    }
    // The copy alone: it defers the unique indexes to the tail and leaves the start point.
    let code = mongo_replicator::cmd::copy::command(&cfg).await.unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    source
        .run_command(doc! {"dropIndexes": "index_dropped", "index": "email_1"})
        .await
        .unwrap();
    source
        .collection::<Document>("coll_dropped")
        .drop()
        .await
        .unwrap();
    rename_collection(&dep, &src, "renamed", "renamed_2", false).await;

    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    wait_until(
        "the deferred indexes are settled",
        Duration::from_secs(20),
        || async { r.reporter.status.to_json()["pending_indexes"] == serde_json::json!([]) },
    )
    .await;
    assert_eq!(index_names(&target, "kept").await, ["_id_", "email_1"]);
    assert_eq!(
        index_names(&target, "renamed_2").await,
        ["_id_", "email_1"],
        "the renamed collection's index is built under its new name"
    );
    assert_eq!(
        index_names(&target, "index_dropped").await,
        ["_id_"],
        "an index the source dropped was built on the backup"
    );
    let names = target.list_collection_names().await.unwrap();
    assert!(
        !names.contains(&"coll_dropped".to_string()) && !names.contains(&"renamed".to_string()),
        "a deferred index recreated a dropped or renamed collection: {names:?}"
    );
    assert_identical(&dep, &cfg).await;
    r.shutdown().await.unwrap();
}
