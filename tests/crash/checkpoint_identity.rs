//! The checkpoint records which deployment it follows by its replica set id
//! (`replSetGetConfig`'s `settings.replicaSetId`), not only its name: a checkpoint of another
//! set of the same name is refused at start. A user not allowed `replSetGetConfig` runs on the
//! name alone.

use super::checkpoint_file::run_with_checkpoint;
use crate::support::{config, db_names, fail_commands, replicate_once, skip_on_real_server};
use crate::support::{Deployment, Needs};
use bson::{doc, oid::ObjectId, Document};
use mongo_replicator::config::CheckpointStoreKind;
use std::path::Path;

/// `settings.replicaSetId` of `dep`'s replica set.
async fn replica_set_id(dep: &Deployment) -> ObjectId {
    let reply = dep
        .client
        .database("admin")
        .run_command(doc! {"replSetGetConfig": 1})
        .await
        .unwrap();
    reply
        .get_document("config")
        .and_then(|c| c.get_document("settings"))
        .and_then(|s| s.get_object_id("replicaSetId"))
        .unwrap()
}

/// One in-process run over `dep` to a clean stop, with its checkpoint in the file `path`: what
/// the file then records of the source.
async fn replicate_into_file(dep: &Deployment, path: &Path) -> Document {
    let (src, dst) = db_names("ckident");
    dep.db(&src)
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.checkpoint.store = CheckpointStoreKind::File;
    cfg.checkpoint.path = Some(path.to_path_buf());
    replicate_once(&cfg).await;
    let saved = Document::from_reader(std::fs::File::open(path).unwrap()).unwrap();
    saved.get_document("source").unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_of_another_replica_set_of_the_same_name_is_refused() {
    skip_on_real_server!(Needs::TwoReplicaSets);
    let (first, second) = (Deployment::start().await, Deployment::start().await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp.bson");
    let source = replicate_into_file(&first, &path).await;
    assert_eq!(
        source.get_object_id("replica_set_id").ok(),
        Some(replica_set_id(&first).await),
        "the checkpoint does not record the replica set id: {source}"
    );
    let before = std::fs::read(&path).unwrap();
    let (code, err) = run_with_checkpoint(&second, dir.path(), &path);
    assert_eq!(code, 2, "stderr: {err}");
    let (a, b) = (
        replica_set_id(&first).await.to_hex(),
        replica_set_id(&second).await.to_hex(),
    );
    assert!(
        err.contains(&a) && err.contains(&b) && err.contains("delete the checkpoint"),
        "no clear refusal naming both ids: {err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "checkpoint rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_not_allowed_repl_set_get_config_runs_on_the_set_name_alone() {
    skip_on_real_server!(Needs::FailPoints);
    let dep = Deployment::start().await;
    fail_commands(&dep, &["replSetGetConfig"], 13).await;
    let dir = tempfile::tempdir().unwrap();
    let source = replicate_into_file(&dep, &dir.path().join("cp.bson")).await;
    assert_eq!(source.get_str("set_name").ok(), Some("rs0"), "{source}");
    assert!(
        !matches!(source.get("replica_set_id"), Some(bson::Bson::ObjectId(_))),
        "an id recorded without replSetGetConfig: {source}"
    );
}
