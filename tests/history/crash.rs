//! `kill -9` under heavy traffic with history on leaves history and backup consistent: each
//! document's entries form an unbroken chain of versions (every `before` is the version the
//! previous change left) ending at the backup's document.

use super::fixture::Fixture;
use crate::support::procs::ReplicatorProcess;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

const DOCS: i32 = 200;

/// Inserts `{_id, v: 0}` then `$inc`s `v` on random documents: version n of a document has
/// `v: n`, so a missing, doubled or wrong entry shows in the chain.
async fn traffic(f: &Fixture, rounds: usize) {
    let coll = f.source().collection::<Document>("counters");
    let mut x: u64 = 0x9e37_79b9;
    for r in 0..rounds {
        let mut ops = Vec::new();
        for _ in 0..50 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ops.push((x % DOCS as u64) as i32);
        }
        for id in ops {
            coll.update_one(doc! {"_id": id}, doc! {"$inc": {"v": 1}})
                .await
                .unwrap();
        }
        if r % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_traffic_keeps_history_and_backup_consistent() {
    let mut f = Fixture::start("hist_crash", |c| c.apply.batch_size = 64).await;
    let coll = f.source().collection::<Document>("counters");
    let docs: Vec<Document> = (0..DOCS).map(|i| doc! {"_id": i, "v": 0}).collect();
    coll.insert_many(docs).await.unwrap();
    for round in 0..3 {
        let load = traffic(&f, 20);
        let kill = async {
            tokio::time::sleep(Duration::from_millis(300 + 200 * round)).await;
        };
        tokio::join!(load, kill);
        f.process.kill9();
        f.process = ReplicatorProcess::run(f.dir.path(), &f.cfg);
    }
    traffic(&f, 10).await;
    f.caught_up(&["counters"]).await;

    let mut chains: BTreeMap<i32, Vec<Document>> = BTreeMap::new();
    let mut cursor = f
        .history()
        .collection::<Document>("history")
        .find(doc! {"coll": "counters"})
        .sort(doc! {"t": 1, "_id.n": 1})
        .await
        .unwrap();
    while let Some(e) = cursor.try_next().await.unwrap() {
        chains.entry(e.get_i32("id").unwrap()).or_default().push(e);
    }
    let backup = crate::support::documents(&f.backup(), "counters").await;
    assert_eq!(backup.len(), DOCS as usize);
    for d in backup {
        let id = d.get_i32("_id").unwrap();
        let v = d.get_i32("v").unwrap();
        let chain = chains.get(&id).map(Vec::as_slice).unwrap_or_default();
        // The copy wrote v 0 when it ran before the inserts were streamed; else the insert is
        // the chain's first entry.
        let inserted = chain.first().is_some_and(|e| e.get_str("op") == Ok("insert"));
        let want_len = v as usize + usize::from(inserted);
        assert_eq!(chain.len(), want_len, "document {id} at v {v}: {chain:?}");
        for (n, e) in chain.iter().enumerate() {
            let before = match e.get("before") {
                Some(Bson::Document(b)) => b.get_i32("v").ok(),
                _ => None,
            };
            let want = match (inserted, n) {
                (true, 0) => None,
                (true, n) => Some(n as i32 - 1),
                (false, n) => Some(n as i32),
            };
            assert_eq!(before, want, "document {id}, change {n}: {e:?}");
        }
    }
}
