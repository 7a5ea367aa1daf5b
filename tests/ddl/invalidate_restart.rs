//! Issue 11 item 13: a `dropDatabase` invalidates the database change stream; when the
//! replicator stops (or crashes) after handling the invalidate and before the reopened stream
//! gave a newer position, its checkpoint holds the invalidate's token. `resumeAfter` an
//! invalidate token is refused by the server (260 InvalidResumeToken), so the next start must
//! reopen with `startAfter` and go on replicating, with `apply.ddl.drop_database` on and off.

use crate::support::{config, db_names, wait_until, Deployment, Replicator};
use bson::{doc, Document};
use futures::StreamExt;
use mongo_replicator::config::Config;
use mongo_replicator::state::store::TargetStore;
use mongo_replicator::state::CheckpointStore;
use mongodb::Database;
use std::time::Duration;

async fn count(db: &Database, coll: &str) -> u64 {
    db.collection::<Document>(coll)
        .count_documents(doc! {})
        .await
        .unwrap()
}

/// Sets the stored checkpoint's resume token to `token` (a stop at that very event).
async fn checkpoint_at(dep: &Deployment, cfg: &Config, token: Document) {
    let client = mongodb::Client::with_uri_str(&dep.uri).await.unwrap();
    let store = TargetStore::new(
        client,
        &cfg.checkpoint.database,
        &cfg.source.database,
        &cfg.target.database,
    );
    let mut cp = store.load().await.unwrap().expect("a checkpoint");
    assert!(cp.resume_token.is_some() && !cp.copying);
    cp.resume_token = Some(token);
    store.save(&cp).await.unwrap();
}

/// Drops the source database while replicating, stops once the invalidate is checkpointed,
/// restarts and checks that later writes reach the backup.
async fn restart_after_a_database_drop(tag: &str, drop_database: bool) {
    let dep = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.apply.ddl.drop_database = drop_database;
    let source = dep.db(&src);
    let target = dep.db(&dst);
    source
        .collection::<Document>("a")
        .insert_many((0..5).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    // The invalidate's token, as every stream on this database sees it.
    let mut watch = source.watch().await.unwrap();
    source.drop().await.unwrap();
    let invalidate = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the drop's events")
            .expect("an event")
            .unwrap();
        if event.operation_type == mongodb::change_stream::event::OperationType::Invalidate {
            break bson::to_document(&event.id).unwrap();
        }
    };
    r.caught_up(Duration::from_secs(30)).await;
    // The dropDatabase and the invalidate behind it are applied and covered by the watermark;
    // the graceful stop saves that position.
    let want_a = if drop_database { 0 } else { 5 };
    assert_eq!(count(&target, "a").await, want_a, "the database drop");
    r.shutdown().await.expect("the first run stops cleanly");
    // The stop came right after the invalidate: the checkpoint holds its token.
    checkpoint_at(&dep, &cfg, invalidate).await;

    let r = Replicator::start(&cfg).await;
    source
        .collection::<Document>("b")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    wait_until(
        "a write after the restart reaching the backup",
        Duration::from_secs(30),
        || async {
            assert!(
                !r.job.is_finished(),
                "the restarted replicator stopped: {:?}",
                r.reporter.status.to_json()["last_error"]
            );
            count(&target, "b").await == 1
        },
    )
    .await;
    assert_eq!(count(&target, "a").await, want_a);
    r.shutdown().await.expect("the second run stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_a_replicated_database_drop_resumes() {
    restart_after_a_database_drop("invrestart", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_a_refused_database_drop_resumes() {
    restart_after_a_database_drop("invrestartkeep", false).await;
}
