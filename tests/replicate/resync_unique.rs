//! Issue 11 item 12: a resync over a backup with a unique index, after a unique value moved
//! between documents while the history was lost. The backup's stale holder of the value used
//! to be pruned only after the copy, so the copy's write was a duplicate key at every restart.

use crate::support::http::series;
use crate::support::{
    assert_identical_between, create_index, replicate_once, skip_on_real_server, Needs, Replicator,
};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_settles_stale_holders_of_unique_values() {
    skip_on_real_server!(Needs::TinyOplog);
    let (dep, target, cfg) = super::history::resync_deployments("resyncuniq").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let source = dep.db(&src);
    let users = source.collection::<Document>("users");
    create_index(&source, "users", doc! {"email": 1}, true).await;
    let docs: Vec<Document> = (0..10)
        .map(|i| doc! {"_id": i, "email": format!("u{i}@example.com")})
        .collect();
    users.insert_many(docs).await.unwrap();
    replicate_once(&cfg).await;
    let unique_on_target = || async {
        mongo_replicator::bulk::index_specs::index_specs(
            &mongo_replicator::source::Endpoint::between(&target.db(&dst), &target.db(&dst), None)
                .1,
            "users",
            mongo_replicator::error::Origin::Target,
        )
        .await
        .unwrap()
        .iter()
        .any(|s| s.get_bool("unique").unwrap_or(false))
    };
    assert!(unique_on_target().await, "the backup has the unique index");

    // While the replicator is away: u9's address moves to _id 1 (u9 deleted: a stale holder
    // the resync prunes only at its end) and u8's to _id 2 (u8 renamed: a stale holder later
    // in `_id` order); then enough writes that the stored token leaves the oplog.
    users.delete_one(doc! {"_id": 9}).await.unwrap();
    users
        .update_one(doc! {"_id": 1}, doc! {"$set": {"email": "u9@example.com"}})
        .await
        .unwrap();
    users
        .update_one(
            doc! {"_id": 8},
            doc! {"$set": {"email": "new8@example.com"}},
        )
        .await
        .unwrap();
    users
        .update_one(doc! {"_id": 2}, doc! {"$set": {"email": "u8@example.com"}})
        .await
        .unwrap();
    let other = source.collection::<Document>("other");
    for i in 0..400 {
        other.insert_one(doc! {"_id": i}).await.unwrap();
    }

    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(60)).await;
    assert_eq!(
        r.metric(&series(names::ERRORS_TOTAL, "kind", "history_lost"))
            .await,
        1.0,
        "history was not lost (once), the test proves nothing"
    );
    assert_identical_between(&cfg, &source, &target.db(&dst)).await;
    r.shutdown().await.unwrap();
}
