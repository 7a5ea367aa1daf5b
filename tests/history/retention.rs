//! Retention: the replicator prunes entries older than `history.retention` in bounded range
//! deletes, moves the window's start, and a restore before it is refused.

use super::fixture::{Fixture, LIMIT};
use crate::support::wait_until;
use bson::{doc, DateTime, Document};
use mongo_replicator::history::changes::{prune, Changes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_entries_are_pruned_in_bounded_steps_and_the_window_moves() {
    let f = Fixture::start("hist_retention", |c| c.history.retention = "10s".into()).await;
    let coll = f.source().collection::<Document>("events");
    for i in 0..30 {
        coll.insert_one(doc! {"_id": i}).await.unwrap();
    }
    let history = f.history().collection::<Document>("history");
    wait_until("30 entries recorded", LIMIT, || async {
        history.count_documents(doc! {}).await.unwrap() == 30
    })
    .await;
    let early = f.source_time().await;

    // One bounded step, in-process: at most `max` of the oldest entries go.
    let client = mongodb::Client::with_uri_str(&f.dep.uri).await.unwrap();
    let changes = Changes::open(&f.cfg, &client).unwrap();
    let all_old = DateTime::from_millis(DateTime::now().timestamp_millis() + 60_000);
    assert_eq!(prune::prune(&changes, all_old, 10).await.unwrap(), 10);
    assert_eq!(history.count_documents(doc! {}).await.unwrap(), 20);

    // The replicator prunes the rest once they are older than 10 s.
    wait_until("the replicator prunes old entries", LIMIT, || async {
        history.count_documents(doc! {}).await.unwrap() == 0
    })
    .await;
    coll.insert_one(doc! {"_id": 100}).await.unwrap();
    wait_until("a new change is recorded", LIMIT, || async {
        history.count_documents(doc! {}).await.unwrap() == 1
    })
    .await;
    let (code, _, err) = f.binary(&["restore", "--at", &early, "--dry-run"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("before the retained window"), "{err}");
}
