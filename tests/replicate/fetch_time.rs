//! A re-read's time is its snapshot's: the tail fences a re-read document at that time and
//! skips the document's deltas up to it, so a time later than what was read skips a change for
//! good. CI saw it (HA handover, seed 57633): the read reported the reply's `operationTime`,
//! taken after the read, and a write that committed in between was fenced away
//! (`events DIFFERENT ... different=1`).

use crate::support::{db_names, Deployment};
use bson::{doc, Document};
use futures::StreamExt;
use mongo_replicator::apply::fetch_current;
use mongo_replicator::source::translate::ClusterTime;
use mongo_replicator::source::Endpoint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_read_under_writes_holds_exactly_the_changes_up_to_its_time() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("fetchtime");
    let source = dep.db(&src);
    let side = Endpoint::between(&source, &dep.db(&dst), None).0;
    let coll = source.collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();
    let mut events = coll.watch().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (coll, stop) = (coll.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0i32;
            while !stop.load(Ordering::Relaxed) {
                coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})
                    .await
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    let mut reads = Vec::new();
    for _ in 0..1500 {
        let (found, at) = fetch_current(&side, "c", &[doc! {"_id": 1}]).await.unwrap();
        reads.push((found[0].get_i32("n").unwrap(), at));
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    // The time each value of `n` was committed at (index n; n = 0 was there before).
    let mut set_at = vec![None];
    while set_at.len() <= writes as usize {
        let e = events.next().await.unwrap().unwrap();
        let n = e
            .update_description
            .unwrap()
            .updated_fields
            .get_i32("n")
            .unwrap();
        assert_eq!(n as usize, set_at.len(), "one event per $inc, in order");
        set_at.push(Some(ClusterTime(e.cluster_time.unwrap())));
    }
    let mut later_than_read = 0;
    for (n, at) in &reads {
        if let Some(Some(t)) = set_at.get(*n as usize) {
            assert!(
                t <= at,
                "n={n} was set at {t:?}, after the read's time {at:?}"
            );
        }
        if let Some(Some(next)) = set_at.get(*n as usize + 1) {
            if next <= at {
                later_than_read += 1;
            }
        }
    }
    assert_eq!(
        later_than_read,
        0,
        "of {} re-reads, {later_than_read} reported a time that covers a change they did not \
         hold ({writes} writes ran alongside)",
        reads.len()
    );
}
