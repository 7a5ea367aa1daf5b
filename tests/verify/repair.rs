//! Damage behind the replicator's back, while traffic runs: documents deleted, changed and
//! added directly on the backup, and an index dropped there. Each is found within a sweep at
//! the test's rate, reported with its kind (and nothing else is reported: the traffic's own
//! documents never count), repaired, and `verify` ends identical.

use super::{divergences, orders, start, verify_config, verify_status, WAIT};
use crate::control::resync::{damage, Traffic};
use crate::support::http::series;
use crate::support::{converge, create_index, index_names, wait_until, Deployment};
use bson::{doc, Bson};
use mongo_replicator::verify::metrics as vm;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damage_on_the_backup_is_found_with_its_kind_and_repaired_while_traffic_runs() {
    let dir = tempfile::tempdir().unwrap();
    let dep = Deployment::start().await;
    let mut cfg = verify_config(&dep, "vfy_repair", 4000);
    cfg.verify.continuous.repair_ddl = true;
    let (source, backup) = orders(&dep, &cfg, 400).await;
    create_index(
        &dep.db(&cfg.source.database),
        "orders",
        doc! {"name": 1},
        false,
    )
    .await;
    let p = start(dir.path(), &cfg).await;
    converge(&dep, &cfg, WAIT).await;
    let traffic = Traffic::start(source.clone());

    let gone: Vec<Bson> = [3, 4, 5].map(Bson::Int32).to_vec();
    let changed: Vec<Bson> = [20, 21].map(Bson::Int32).to_vec();
    let extra: Vec<Bson> = vec![Bson::String("extra-a".into()), Bson::Int32(5000)];
    damage(&backup, &gone, &changed, &extra).await;
    backup.drop_index("name_1").await.unwrap();

    let expected: BTreeSet<(String, String)> = gone
        .iter()
        .map(|id| ("missing", id))
        .chain(changed.iter().map(|id| ("different", id)))
        .chain(extra.iter().map(|id| ("extra", id)))
        .map(|(k, id)| {
            (
                k.to_string(),
                id.clone().into_canonical_extjson().to_string(),
            )
        })
        .collect();
    let found = |list: &serde_json::Value| -> BTreeSet<(String, String)> {
        list["divergences"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] != "index")
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["_id"].to_string(),
                )
            })
            .collect()
    };
    wait_until(
        "every damaged document and the index reported",
        WAIT,
        || async {
            let list = divergences(&p).await;
            let index = list["divergences"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["kind"] == "index");
            found(&list) == expected && index
        },
    )
    .await;
    let list = divergences(&p).await;
    for d in list["divergences"].as_array().unwrap() {
        assert_eq!(d["collection"], "orders", "{d}");
        assert_eq!(d["repaired"], true, "repaired: {d}");
        assert_eq!(d["outcome"], "repaired", "{d}");
    }
    assert_eq!(
        list["total"], 8,
        "only the damage, never the traffic: {list}"
    );
    // Announced on the bus by collection and kind, never by _id.
    let mut sse = crate::notify::SseClient::connect(p.http, crate::control::TOKEN, None).await;
    let events = sse.until("divergence_repaired").await;
    let found = events
        .iter()
        .find(|e| e.kind == "divergence_found")
        .expect("divergence_found");
    let data = &found.data["data"];
    assert_eq!(data["collection"], "orders", "{data}");
    assert!(data.get("_id").is_none(), "{data}");
    let traffic_ops = traffic.stop().await;
    assert!(traffic_ops > 0);
    for (kind, n) in [
        ("missing", 3.0),
        ("different", 2.0),
        ("extra", 2.0),
        ("index", 1.0),
    ] {
        let s = series(vm::VERIFY_DIVERGENCES_TOTAL, "kind", kind);
        assert_eq!(p.metric(&s).await, n, "{kind}");
    }
    assert_eq!(p.metric(vm::VERIFY_REPAIRS_TOTAL).await, 8.0);
    assert!(p.metric(vm::VERIFY_DOCUMENTS_TOTAL).await >= 400.0);
    assert!(index_names(&dep.db(&cfg.target.database), "orders")
        .await
        .contains(&"name_1".to_string()));
    wait_until("a full sweep shows in /status", WAIT, || async {
        verify_status(&p).await["last_full_sweep"].is_string()
    })
    .await;
    converge(&dep, &cfg, WAIT).await;
}

/// Recent changes: a document damaged on the backup right after the tail wrote it is found by
/// the recent-change check (`found: recent`) long before a sweep at 1 document a second could
/// reach it, and repaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recently_applied_document_damaged_on_the_backup_is_found_by_the_recent_check() {
    let dir = tempfile::tempdir().unwrap();
    let dep = Deployment::start().await;
    let cfg = verify_config(&dep, "vfy_recent", 1);
    let (source, backup) = orders(&dep, &cfg, 500).await;
    let p = start(dir.path(), &cfg).await;
    converge(&dep, &cfg, WAIT).await;
    let mut round = 0;
    wait_until("the damage found by the recent check", WAIT, || {
        round += 1;
        let (source, backup, p) = (&source, &backup, &p);
        async move {
            // Written by the tail, then damaged before its settle delay ends.
            let v = round;
            source
                .update_one(doc! {"_id": 450}, doc! {"$set": {"v": v}})
                .await
                .unwrap();
            wait_until("applied", WAIT, || async {
                backup
                    .find_one(doc! {"_id": 450})
                    .await
                    .unwrap()
                    .is_some_and(|d| d.get_i32("v") == Ok(v))
            })
            .await;
            backup
                .update_one(doc! {"_id": 450}, doc! {"$set": {"damaged": true}})
                .await
                .unwrap();
            // Its settle delay and a check; missed (the check ran first), the next round retries.
            tokio::time::sleep(mongo_replicator::verify::recent::SETTLE * 2).await;
            divergences(p).await["total"].as_u64() > Some(0)
        }
    })
    .await;
    let list = divergences(&p).await;
    let d = &list["divergences"][0];
    assert_eq!(
        (
            d["kind"].as_str(),
            d["found"].as_str(),
            d["_id"].to_string()
        ),
        (
            Some("different"),
            Some("recent"),
            r#"{"$numberInt":"450"}"#.to_string()
        ),
        "{list}"
    );
    assert_eq!(d["repaired"], true);
    wait_until("the backup copy repaired", WAIT, || async {
        backup
            .find_one(doc! {"_id": 450})
            .await
            .unwrap()
            .is_some_and(|d| !d.contains_key("damaged"))
    })
    .await;
}
