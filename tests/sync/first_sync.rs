//! First sync of two non-empty sides that diverged: one-side-only documents are copied, equal
//! ones agreed, differing ones are conflicts under the collection's strategy.

use super::{api_post, open_conflicts, Pair, CONVERGE};
use crate::support::wait_until;
use bson::doc;
use mongo_replicator::config::Strategy;

/// More `users` split over both sides: 2.5 chunks of the pass.
const EVENTS: i32 = 2500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_sync_of_two_divergent_non_empty_sides() {
    let pair = Pair::start("sync_first")
        .await
        .with_strategy("items", Strategy::KeepLocal);
    let (l, r) = (pair.local_db(), pair.remote_db());
    let (lu, ru) = (
        l.collection::<bson::Document>("users"),
        r.collection::<bson::Document>("users"),
    );
    for i in 1..=5 {
        lu.insert_one(doc! { "_id": i, "v": "same" }).await.unwrap();
    }
    for i in 4..=8 {
        ru.insert_one(doc! { "_id": i, "v": "same" }).await.unwrap();
    }
    lu.update_one(doc! { "_id": 3 }, doc! { "$set": { "v": "local" } })
        .await
        .unwrap();
    ru.insert_one(doc! { "_id": 3, "v": "remote" })
        .await
        .unwrap();
    l.collection::<bson::Document>("items")
        .insert_one(doc! { "_id": 1, "v": "local" })
        .await
        .unwrap();
    r.collection::<bson::Document>("items")
        .insert_one(doc! { "_id": 1, "v": "remote" })
        .await
        .unwrap();
    // More documents than one chunk of the pass's merge join, interleaved over both sides:
    // under `users`, `_id`s from 100 (the cases above use 1..=8).
    let many = |keep: fn(&i32) -> bool| (0..EVENTS).filter(keep).map(|i| doc! { "_id": 100 + i });
    lu.insert_many(many(|i| i % 3 != 0)).await.unwrap();
    ru.insert_many(many(|i| i % 3 != 1)).await.unwrap();

    let p = pair.sync().await;
    wait_until("documents only on one side copied", CONVERGE, || async {
        let all = 8 + EVENTS as u64;
        lu.count_documents(doc! {}).await.unwrap() == all
            && ru.count_documents(doc! {}).await.unwrap() == all
    })
    .await;
    let v = |d: Option<bson::Document>| d.unwrap().get_str("v").unwrap().to_string();
    // items: keep_local, resolved without a person. Waited for first: until then its conflict
    // may be open too (listed newest first), or not yet detected.
    pair.converged("items").await;
    let item = r
        .collection::<bson::Document>("items")
        .find_one(doc! { "_id": 1 })
        .await
        .unwrap();
    assert_eq!(v(item), "local");
    // users: manual, so _id 3 stays as it is on each side, one open conflict.
    wait_until("the users conflict alone open", CONVERGE, || async {
        let open = open_conflicts(&p).await;
        open.len() == 1 && open[0]["collection"] == "users"
    })
    .await;
    let open = open_conflicts(&p).await;
    assert_eq!(open[0]["collection"], "users");
    assert_eq!(open[0]["kind"], "both_changed");
    assert_eq!(
        open[0]["local_id"],
        serde_json::json!({ "$numberInt": "3" })
    );
    assert_eq!(open[0]["local"]["v"], "local");
    assert_eq!(open[0]["remote"]["v"], "remote");
    assert_eq!(v(lu.find_one(doc! { "_id": 3 }).await.unwrap()), "local");
    assert_eq!(v(ru.find_one(doc! { "_id": 3 }).await.unwrap()), "remote");
    // `manual` needs a person: auto-resolve skips it; a merge resolves it on both sides.
    let (code, auto) = api_post(&p, "/api/v1/conflicts/auto-resolve", r#"{"max": 5}"#).await;
    assert_eq!(
        (code, &auto["resolved"], &auto["skipped"]),
        (200, &0.into(), &1.into())
    );
    let id = open[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/conflicts/{id}/resolve");
    let (code, out) = api_post(
        &p,
        &path,
        r#"{"strategy": "merge", "value": {"v": "merged"}}"#,
    )
    .await;
    assert_eq!(code, 200, "{out}");
    wait_until("the merged version on both sides", CONVERGE, || async {
        let (a, b) = (
            lu.find_one(doc! { "_id": 3 }).await.unwrap(),
            ru.find_one(doc! { "_id": 3 }).await.unwrap(),
        );
        a == Some(doc! { "_id": 3, "v": "merged" }) && a == b
    })
    .await;
    let (code, _) = api_post(&p, &path, r#"{"strategy": "keep_local"}"#).await;
    assert_eq!(code, 409, "a resolved conflict is not resolved again");
    // A pass on demand now finds nothing to copy.
    let (code, summary) = api_post(&p, "/api/v1/sync/now", "").await;
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["copied_to_local"], 0);
    assert_eq!(summary["copied_to_remote"], 0);
}
