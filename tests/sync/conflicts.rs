//! Conflicts: a partition while both sides write leaves exactly the documents changed on both
//! sides in conflict; a duplicate unique value is detected and `rename_local` resolves it.

use super::{api_get, open_conflicts, Pair, CONVERGE, TOKEN};
use crate::support::proxy::Fault;
use crate::support::{run_binary, wait_until};
use bson::doc;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the remote side is cut off while both write (issue 17: 20 s); both sides' writes
/// are spread over it.
const PARTITION: Duration = Duration::from_secs(20);
/// Rounds of writes during the partition, one every `PARTITION / ROUNDS`.
const ROUNDS: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_leaves_in_conflict_exactly_the_documents_changed_on_both_sides() {
    let pair = Pair::start("sync_partition").await;
    let (l, r) = (pair.local_db(), pair.remote_db());
    let (lu, ru) = (
        l.collection::<bson::Document>("users"),
        r.collection::<bson::Document>("users"),
    );
    let p = pair.sync().await;
    for i in 0..20 {
        lu.insert_one(doc! { "_id": i, "v": 0 }).await.unwrap();
    }
    pair.converged("users").await;
    pair.proxy.set(Fault::Blackhole);
    let started = std::time::Instant::now();
    // Local keeps working while the remote side is unreachable; both write all along it.
    for round in 0..ROUNDS {
        let i = i64::from(round);
        lu.update_one(doc! { "_id": i }, doc! { "$set": { "v": "local" } })
            .await
            .unwrap();
        ru.update_one(doc! { "_id": i + 5 }, doc! { "$set": { "v": "remote" } })
            .await
            .unwrap();
        tokio::time::sleep((PARTITION / ROUNDS).saturating_sub(Duration::from_millis(100))).await;
    }
    ru.delete_one(doc! { "_id": 19 }).await.unwrap();
    lu.update_one(doc! { "_id": 19 }, doc! { "$set": { "v": "local" } })
        .await
        .unwrap();
    tokio::time::sleep(PARTITION.saturating_sub(started.elapsed())).await;
    pair.proxy.set(Fault::Pass);
    let expected: BTreeSet<i64> = (5..10).chain([19]).collect();
    wait_until("the conflicts after the partition", CONVERGE, || async {
        open_conflicts(&p).await.len() >= expected.len()
    })
    .await;
    let v = |d: &bson::Document| d.get("v").map(|v| v.to_string());
    wait_until("the rest converged", CONVERGE, || async {
        let (ls, rs) = (
            super::sorted(&l, "users").await,
            super::sorted(&r, "users").await,
        );
        let pick = |docs: &[bson::Document], i: i64| {
            docs.iter()
                .find(|d| d.get_i32("_id").ok() == Some(i as i32))
                .map(v)
        };
        (0..20)
            .filter(|i| !expected.contains(i))
            .all(|i| pick(&ls, i) == pick(&rs, i) && pick(&ls, i).is_some())
    })
    .await;
    let got: BTreeSet<i64> = open_conflicts(&p)
        .await
        .iter()
        .map(|c| {
            c["local_id"]["$numberInt"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        got, expected,
        "conflicts are exactly the documents changed on both sides"
    );
    // The conflicting documents are left as they are on each side.
    let local5 = lu.find_one(doc! { "_id": 5 }).await.unwrap().unwrap();
    assert_eq!(local5.get_str("v").unwrap(), "local");
    assert!(ru.find_one(doc! { "_id": 19 }).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_username_is_a_conflict_and_rename_local_resolves_it_on_both_sides() {
    let pair = Pair::start("sync_unique").await;
    let (l, r) = (pair.local_db(), pair.remote_db());
    for db in [&l, &r] {
        crate::support::create_index(db, "users", doc! { "username": 1 }, true).await;
    }
    let p = pair.sync().await;
    let (lu, ru) = (
        l.collection::<bson::Document>("users"),
        r.collection::<bson::Document>("users"),
    );
    // The seed's case: an admin created on each side with the same username.
    let (a, b) = tokio::join!(
        lu.insert_one(doc! { "_id": 1, "username": "zelda-dup", "site": "local" }),
        ru.insert_one(doc! { "_id": 2, "username": "zelda-dup", "site": "remote" })
    );
    a.unwrap();
    b.unwrap();
    wait_until("the unique conflict", CONVERGE, || async {
        !open_conflicts(&p).await.is_empty()
    })
    .await;
    let open = open_conflicts(&p).await;
    assert_eq!(open.len(), 1, "one conflict for the pair: {open:?}");
    let c = &open[0];
    assert_eq!(c["kind"], "unique_index");
    assert_eq!(c["field"], "username");
    assert_eq!(c["local_id"], serde_json::json!({ "$numberInt": "1" }));
    assert_eq!(c["remote_id"], serde_json::json!({ "$numberInt": "2" }));
    assert_eq!(c["local_value"], "zelda-dup");
    assert_eq!(c["remote_value"], "zelda-dup");
    // Values only through the authenticated route: not in the log, not in the metrics.
    let (_, metrics) = p.get("/metrics").await.unwrap();
    assert!(!metrics.contains("zelda-dup") && !p.log_text().contains("zelda-dup"));
    let status = api_get(&p, "/api/v1/sync/status").await.unwrap();
    assert_eq!(status["conflicts_open"], 1);
    // The bus told the event stream: names and counts only.
    let mut events = crate::notify::SseClient::connect(p.http, TOKEN, None).await;
    // (The writer's refused batch is one too, with only the error kind: the sync's names the
    // collection.)
    let detected = loop {
        let e = events.until("conflict_detected").await.pop().unwrap();
        if e.data["data"]["collection"].is_string() {
            break e;
        }
    };
    assert_eq!(detected.data["data"]["collection"], "users");
    assert_eq!(detected.data["data"]["kind"], "unique_index");
    assert!(!detected.data.to_string().contains("zelda-dup"));

    let id = c["id"].as_str().unwrap().to_string();
    let addr = p.http.to_string();
    let (code, out, err) = run_binary(
        &[
            "resolve",
            &id,
            "--strategy",
            "rename_local",
            "--value",
            "zelda-local",
            "--addr",
            &addr,
            "--token",
            TOKEN,
        ],
        &[],
    );
    assert_eq!(code, 0, "resolve: {out} {err}");
    let want = vec![
        doc! { "_id": 1, "username": "zelda-local", "site": "local" },
        doc! { "_id": 2, "username": "zelda-dup", "site": "remote" },
    ];
    wait_until("both sides hold both users", CONVERGE, || async {
        super::sorted(&l, "users").await == want && super::sorted(&r, "users").await == want
    })
    .await;
    assert!(open_conflicts(&p).await.is_empty());
    let (code, out, _) = run_binary(
        &[
            "conflicts",
            "--all",
            "--addr",
            &addr,
            "--token",
            TOKEN,
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["conflicts"][0]["resolution"], "rename_local");
}
