//! Issue 11 item 2: the re-read after a rename (documents a fetch missed because their
//! collection was renamed away later in the stream are re-read under the new name) can fail: a
//! target-only unique index refuses the re-read document, or the replicator stops while the
//! target is down. What the fetch missed must survive in the checkpoint, so the next run
//! re-reads the document instead of keeping the older version the rename carried over.

use crate::support::{
    config, create_index, db_names, fail_commands, fail_commands_off, rename_collection,
    replicate_once, skip_on_real_server, wait_until, Deployment, Needs, Replicator,
};
use bson::{doc, Document};
use mongo_replicator::config::CheckpointStoreKind;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reread_after_a_rename_keeps_the_missed_documents() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("rereadfail");
    let cfg = config(&dep.uri, &src, &dst);
    let source = dep.db(&src);
    let a = source.collection::<Document>("a");
    a.insert_one(doc! {"_id": 1, "v": 0}).await.unwrap();
    replicate_once(&cfg).await;

    // Target only: a unique index on `v` and a document holding the value the source's
    // document takes next, so the re-read under the new name is refused.
    let target = dep.db(&dst);
    create_index(&target, "a", doc! {"v": 1}, true).await;
    target
        .collection::<Document>("a")
        .insert_one(doc! {"_id": 99, "v": 7})
        .await
        .unwrap();

    // A dotted field name: the event is applied by re-reading the document, which by then is
    // gone from `a` (renamed to `b`).
    a.update_one(doc! {"_id": 1}, doc! {"$set": {"x": {"a.b": 1}, "v": 7}})
        .await
        .unwrap();
    rename_collection(&dep, &src, "a", "b", false).await;

    let r = Replicator::start(&cfg).await;
    wait_until(
        "the replicator stops at the refused re-read",
        Duration::from_secs(30),
        || async { r.job.is_finished() },
    )
    .await;
    assert!(r.shutdown().await.is_err(), "the refused re-read is fatal");
    let b = target.collection::<Document>("b");
    assert_eq!(
        b.find_one(doc! {"_id": 1}).await.unwrap(),
        Some(doc! {"_id": 1, "v": 0}),
        "the rename carried the older version over, the re-read was refused"
    );

    // The operator removes the target-only document; the next run replays the rename and
    // re-reads the document the fetch missed.
    b.delete_one(doc! {"_id": 99}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    assert_eq!(
        b.find_one(doc! {"_id": 1}).await.unwrap(),
        Some(doc! {"_id": 1, "v": 7, "x": {"a.b": 1}}),
        "the renamed document lost the changes the failed re-read was to bring"
    );
    r.shutdown().await.unwrap();
}

/// As above with the target down during the re-read, and the replicator stopped meanwhile
/// (the path of SIGTERM): the final checkpoint (a file, on no side) still holds what the fetch
/// missed, and the next run re-reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_the_target_is_down_at_the_reread_keeps_the_missed_documents() {
    skip_on_real_server!(Needs::FailPoints);
    let dep = Deployment::start().await;
    let (src, dst) = db_names("rereadstop");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(dir.path().join("checkpoint.bson"));
    let source = dep.db(&src);
    let a = source.collection::<Document>("a");
    a.insert_one(doc! {"_id": 1, "v": 0}).await.unwrap();
    replicate_once(&cfg).await;

    a.update_one(doc! {"_id": 1}, doc! {"$set": {"x": {"a.b": 1}, "v": 7}})
        .await
        .unwrap();
    rename_collection(&dep, &src, "a", "b", false).await;
    // The target refuses the re-read's writes as a server shutting down would (transient).
    fail_commands(&dep, &["update"], 91).await;
    let r = Replicator::start(&cfg).await;
    let target = dep.db(&dst);
    wait_until("the rename is applied", Duration::from_secs(30), || async {
        target
            .list_collection_names()
            .await
            .unwrap()
            .contains(&"b".to_string())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = r.shutdown().await;
    fail_commands_off(&dep).await;

    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    assert_eq!(
        target
            .collection::<Document>("b")
            .find_one(doc! {"_id": 1})
            .await
            .unwrap(),
        Some(doc! {"_id": 1, "v": 7, "x": {"a.b": 1}}),
        "a stop during the re-read lost the documents the fetch missed"
    );
    r.shutdown().await.unwrap();
}
