//! A kill -9 in the middle of a sweep: the restarted replicator resumes the sweep at the
//! position it persisted (collection and `_id`), so it compares only the rest of the collection
//! before the sweep ends: asserted from the persisted position and the compared-documents
//! metric, not just from converging.

use super::{orders, start, verify_config, WAIT};
use crate::support::{wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::verify::metrics as vm;
use mongo_replicator::verify::position::{SweepPosition, COLLECTION};
use std::sync::atomic::{AtomicBool, Ordering};

const DOCS: i32 = 3000;

async fn persisted(
    dep: &Deployment,
    cfg: &mongo_replicator::config::Config,
) -> Option<SweepPosition> {
    let d = dep
        .db(&cfg.checkpoint.database)
        .collection::<Document>(COLLECTION)
        .find_one(doc! {})
        .await
        .unwrap()?;
    let mut d = d;
    d.remove("_id");
    Some(bson::from_document(d).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_mid_sweep_resumes_at_the_persisted_position() {
    let dir = tempfile::tempdir().unwrap();
    let dep = Deployment::start().await;
    let cfg = verify_config(&dep, "vfy_resume", 400);
    orders(&dep, &cfg, DOCS).await;
    let mut p = start(dir.path(), &cfg).await;
    wait_until("a third of the sweep persisted", WAIT, || async {
        persisted(&dep, &cfg)
            .await
            .is_some_and(|s| s.documents >= DOCS as u64 / 3)
    })
    .await;
    p.kill9();
    let at_kill = persisted(&dep, &cfg).await.unwrap();
    assert_eq!(at_kill.sweep, 1);
    assert_eq!(at_kill.collection.as_deref(), Some("orders"));
    assert!(at_kill.after.is_some(), "mid-collection: {at_kill:?}");
    assert!(at_kill.last_full_sweep.is_none());

    let p = start(dir.path(), &cfg).await;
    let restarted = AtomicBool::new(false);
    wait_until("the resumed sweep finished", WAIT, || async {
        let now = persisted(&dep, &cfg).await.unwrap();
        if now.sweep == 1 && now.documents < at_kill.documents {
            restarted.store(true, Ordering::Relaxed);
        }
        now.sweep >= 2
    })
    .await;
    assert!(
        !restarted.load(Ordering::Relaxed),
        "the sweep restarted from the beginning"
    );
    // The second process compared the rest of the collection, not all of it.
    let compared = p.metric(vm::VERIFY_DOCUMENTS_TOTAL).await;
    assert!(
        compared < DOCS as f64 - at_kill.documents as f64 / 2.0,
        "compared {compared} after resuming at {} of {DOCS}",
        at_kill.documents
    );
    assert!(compared > 0.0);
    let done = persisted(&dep, &cfg).await.unwrap();
    assert!(done.last_full_sweep.is_some());
}
