//! The copy's start point taken while the source is written: a fresh change stream's first
//! batch may already hold events, and the driver then reports no resume token until they are
//! read (it caches `postBatchResumeToken` only from an empty first batch). CI saw
//! `recording the start point: the server sent no resume token` end a `run` under the crash
//! test's traffic.

use crate::support::{db_names, Deployment};
use bson::{doc, Document};
use futures::StreamExt;
use mongo_replicator::config::UpdateMode;
use mongo_replicator::source::stream::start_point;
use mongo_replicator::source::Endpoint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_point_is_recorded_while_the_source_is_written_and_resumes_at_the_end() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("startpoint");
    let source = dep.db(&src);
    let side = Endpoint::between(&source, &dep.db(&dst), None).0;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (coll, stop) = (source.collection::<Document>("orders"), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    coll.insert_one(doc! {"w": w, "n": n}).await.unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    for attempt in 0..300 {
        if let Err(e) = start_point(&side, UpdateMode::Delta).await {
            panic!("start point {attempt} under writes: {e}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    // Quiet now: the start point is the stream's end, so the first event after it is the
    // next write.
    let token = start_point(&side, UpdateMode::Delta).await.unwrap();
    source
        .collection::<Document>("orders")
        .insert_one(doc! {"_id": "after"})
        .await
        .unwrap();
    let token: mongodb::change_stream::event::ResumeToken =
        bson::from_bson(bson::Bson::Document(token)).unwrap();
    let mut stream = source.watch().resume_after(token).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first.document_key,
        Some(doc! {"_id": "after"}),
        "the first event after the start point is the write that followed it"
    );
}
