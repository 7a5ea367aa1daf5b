//! Throughput floors (run with `--release -- --ignored`): 50k inserts/s in batches of 1000
//! ~1 KB documents, and 50k change events/s delivered to one reader.

use bson::{doc, Document};
use mongo_testbed::changestream::{ChangeStream, Scope};
use mongo_testbed::pipeline::Pipeline;
use mongo_testbed::store::*;
use std::time::Instant;

fn batch(start: i32) -> Vec<Document> {
    (start..start + 1000)
        .map(|i| doc! {"_id": i, "n": i, "pad": "x".repeat(1000)})
        .collect()
}

#[tokio::test]
#[ignore = "throughput check; run in release"]
async fn inserts_and_events_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(StoreOptions {
        dbpath: Some(dir.path().into()),
        oplog_max_entries: 1_000_000,
    })
    .unwrap();
    let ns = Namespace::new("db", "c");
    let mut cs = ChangeStream::open(
        s.clone(),
        Scope::Collection(ns.clone()),
        &doc! {},
        Pipeline::new(&[]).unwrap(),
    )
    .unwrap();
    let n = 100_000;
    let t = Instant::now();
    for b in 0..n / 1000 {
        assert_eq!(s.insert(&ns, batch(b * 1000), true).n, 1000);
    }
    let ins = f64::from(n) / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut got = 0;
    while got < n as usize {
        got += cs.next_batch(1000, None).await.unwrap().len();
    }
    let evs = f64::from(n) / t.elapsed().as_secs_f64();
    eprintln!("inserts/s: {ins:.0}, events/s: {evs:.0}");
    assert!(ins >= 50_000.0, "inserts/s {ins:.0}");
    assert!(evs >= 50_000.0, "events/s {evs:.0}");
}
