//! History lost on one side while the sync was down: that direction starts over from the
//! stream's end and a reconciliation pass catches up, three-way, never overwriting the side
//! that changed.

use super::{open_conflicts, Pair, CONVERGE};
use crate::support::http::series;
use crate::support::wait_until;
use bson::doc;
use mongo_replicator::ops::metrics::names;
use mongo_testbed::TestbedOptions;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_lost_on_one_side_leads_to_a_reconciliation_pass() {
    let tiny = TestbedOptions {
        oplog_max_entries: 300,
        ..Default::default()
    };
    let pair = Pair::start_with("sync_history", tiny).await;
    let (l, r) = (pair.local_db(), pair.remote_db());
    let (lu, ru) = (
        l.collection::<bson::Document>("users"),
        r.collection::<bson::Document>("users"),
    );
    let p = pair.sync().await;
    for i in 0..10 {
        lu.insert_one(doc! { "_id": i, "v": 0 }).await.unwrap();
    }
    pair.converged("users").await;
    assert_eq!(p.terminate(Duration::from_secs(30)).await, Some(0));
    // While the sync is down: far more remote writes than its oplog holds.
    for i in 0..3 {
        ru.update_one(doc! { "_id": i }, doc! { "$set": { "v": "remote" } })
            .await
            .unwrap();
    }
    ru.update_one(doc! { "_id": 5 }, doc! { "$set": { "v": "remote" } })
        .await
        .unwrap();
    lu.update_one(doc! { "_id": 5 }, doc! { "$set": { "v": "local" } })
        .await
        .unwrap();
    lu.update_one(doc! { "_id": 7 }, doc! { "$set": { "v": "local" } })
        .await
        .unwrap();
    let items = r.collection::<bson::Document>("items");
    for i in 0..400 {
        items.insert_one(doc! { "_id": i }).await.unwrap();
    }
    let p = pair.sync().await;
    pair.converged("items").await;
    wait_until("users reconciled but _id 5", CONVERGE, || async {
        let (ls, rs) = (
            super::sorted(&l, "users").await,
            super::sorted(&r, "users").await,
        );
        let same = |i: usize| ls[i] == rs[i];
        ls.len() == 10 && rs.len() == 10 && (0..10).filter(|i| *i != 5).all(same)
    })
    .await;
    let v = |d: Option<bson::Document>| d.unwrap().get_str("v").unwrap().to_string();
    assert_eq!(v(lu.find_one(doc! { "_id": 1 }).await.unwrap()), "remote");
    assert_eq!(v(ru.find_one(doc! { "_id": 7 }).await.unwrap()), "local");
    let open = open_conflicts(&p).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        open[0]["local_id"],
        serde_json::json!({ "$numberInt": "5" })
    );
    assert!(
        p.metric(&series(names::ERRORS_TOTAL, "kind", "history_lost"))
            .await
            >= 1.0,
        "history was not lost: the test proves nothing"
    );
}
