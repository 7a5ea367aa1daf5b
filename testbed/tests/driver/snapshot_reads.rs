//! Read concern "snapshot" outside transactions, as the driver's snapshot sessions use it: the
//! reply's `atClusterTime` is the time of exactly the data read, under concurrent writes.

use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Document, Timestamp};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn key(t: Timestamp) -> (u32, u32) {
    (t.time, t.increment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_session_reports_the_time_of_exactly_what_it_read() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("snap").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();
    let mut events = coll.watch().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (coll, stop) = (coll.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
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
    for _ in 0..500 {
        let mut session = client.start_session().snapshot(true).await.unwrap();
        let found: Vec<Document> = coll
            .find(doc! {"_id": 1})
            .session(&mut session)
            .await
            .unwrap()
            .stream(&mut session)
            .try_collect()
            .await
            .unwrap();
        let at = session
            .snapshot_time()
            .expect("the reply carried atClusterTime");
        reads.push((found[0].get_i32("n").unwrap() as usize, at));
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap() as usize;
    let mut set_at = vec![None];
    while set_at.len() <= writes {
        let e = events.next().await.unwrap().unwrap();
        set_at.push(e.cluster_time);
    }
    for (n, at) in reads {
        if let Some(Some(t)) = set_at.get(n) {
            assert!(
                key(*t) <= key(at),
                "n={n} set at {t:?}, after the snapshot {at:?}"
            );
        }
        if let Some(Some(next)) = set_at.get(n + 1) {
            assert!(
                key(*next) > key(at),
                "n={n} read at {at:?}, but n+1 was set at {next:?}"
            );
        }
    }

    // distinct reports the time at the top level; a later snapshot session may name the time
    // it wants while nothing was written since, and is refused as too old after a write.
    let reply = client
        .database("snap")
        .run_command(doc! {"distinct": "c", "key": "n", "readConcern": {"level": "snapshot"}})
        .await
        .unwrap();
    let at = reply.get_timestamp("atClusterTime").unwrap();
    let named = doc! {"find": "c", "readConcern": {"level": "snapshot", "atClusterTime": at}};
    client
        .database("snap")
        .run_command(named.clone())
        .await
        .unwrap();
    coll.insert_one(doc! {"_id": 2}).await.unwrap();
    let err = client
        .database("snap")
        .run_command(named)
        .await
        .unwrap_err();
    assert!(
        matches!(&*err.kind, mongodb::error::ErrorKind::Command(c) if c.code == 239),
        "{err}"
    );
}
