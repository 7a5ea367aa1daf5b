//! Both sides written at once converge, nothing echoes back, and a kill -9 under traffic
//! loses and duplicates nothing.

use super::{counter, open_conflicts, Pair, CONVERGE};
use crate::support::wait_until;
use bson::doc;
use mongodb::Database;

/// Inserts `n` documents with ids from `first`, then bumps each one's counter once.
async fn traffic(db: Database, first: i64, n: i64) {
    let items = db.collection::<bson::Document>("items");
    for i in first..first + n {
        items
            .insert_one(doc! { "_id": i, "n": 0, "side": first })
            .await
            .unwrap();
    }
    for i in first..first + n {
        items
            .update_one(doc! { "_id": i }, doc! { "$inc": { "n": 1 } })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_on_both_sides_converge_and_nothing_echoes() {
    let pair = Pair::start("sync_converge").await;
    let p = pair.sync().await;
    tokio::join!(
        traffic(pair.local_db(), 0, 40),
        traffic(pair.remote_db(), 1000, 40)
    );
    pair.converged("items").await;
    assert_eq!(super::sorted(&pair.local_db(), "items").await.len(), 80);
    assert!(
        open_conflicts(&p).await.is_empty(),
        "no conflict: each side wrote its own documents"
    );
    // Quiet now. One more write on the local side, and its echo seen on the way back: every
    // earlier echo came before it in that stream, so the counters below are final.
    let echoes = counter(&p, "remote_to_local", "echo").await;
    let applied = (
        counter(&p, "local_to_remote", "applied").await,
        counter(&p, "remote_to_local", "applied").await,
    );
    pair.local_db()
        .collection::<bson::Document>("items")
        .insert_one(doc! { "_id": -1, "marker": true })
        .await
        .unwrap();
    wait_until("the marker's echo", CONVERGE, || async {
        counter(&p, "remote_to_local", "echo").await > echoes
    })
    .await;
    assert_eq!(
        counter(&p, "local_to_remote", "applied").await,
        applied.0 + 1
    );
    assert_eq!(
        counter(&p, "remote_to_local", "applied").await,
        applied.1,
        "a write the sync made came back as a change (echo loop)"
    );
    pair.converged("items").await;
    let status = super::api_get(&p, "/api/v1/sync/status").await.unwrap();
    eprintln!("sync counts: {}", status["directions"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_under_traffic_loses_and_duplicates_nothing() {
    let pair = Pair::start("sync_kill9").await;
    let mut p = pair.sync().await;
    let writers = tokio::spawn({
        let (l, r) = (pair.local_db(), pair.remote_db());
        async move { tokio::join!(traffic(l, 0, 150), traffic(r, 1000, 150)) }
    });
    wait_until("some documents synced", CONVERGE, || async {
        counter(&p, "local_to_remote", "applied").await >= 20
    })
    .await;
    p.kill9();
    let p = pair.sync().await;
    writers.await.unwrap();
    pair.converged("items").await;
    let docs = super::sorted(&pair.remote_db(), "items").await;
    assert_eq!(docs.len(), 300, "every document on both sides, once");
    assert!(
        docs.iter().all(|d| d.get_i32("n").unwrap() == 1),
        "each counter bumped exactly once on both sides"
    );
    assert!(open_conflicts(&p).await.is_empty());
}
