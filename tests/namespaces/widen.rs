//! A widened selection: a collection an `exclude` kept off the backup is let in at a restart.
//! Its events alone would leave a partial copy (only documents changed since), so the run
//! copies it whole (documents and indexes) before it resumes the tail, then keeps it in step.

use super::{exclude, include, names, seed, start, tailing, wait_same, WAIT};
use crate::support::{config, create_index, db_names, index_names, wait_until, Deployment};
use bson::{doc, Document};

/// What the run logs for each collection it copies because the selection widened.
const COPIED: &str = "copied a collection the widened source selection added";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_the_rules_let_in_at_a_restart_is_copied_whole_then_followed() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ns_widen");
    let cfg = config(&dep.uri, &src, &dst);
    seed(&dep, &src, "orders", 20).await;
    seed(&dep, &src, "sessions", 30).await;
    let source = dep.db(&src);
    create_index(&source, "sessions", doc! {"user": 1}, false).await;
    let dir = tempfile::tempdir().unwrap();
    let all = include(&format!("{src}.*"));
    let narrow = [exclude(&format!("{src}.sessions")), all.clone()];
    let p = start(dir.path(), &cfg, &narrow);
    tailing(&p).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders")).await;
    assert_eq!(p.terminate(WAIT).await, Some(0));
    assert_eq!(names(&dep, &dst).await, ["orders"]);

    // While it is stopped, one session changes: its event alone would be all the backup got.
    let sessions = source.collection::<Document>("sessions");
    sessions
        .update_one(doc! {"_id": 4}, doc! {"$set": {"seen": true}})
        .await
        .unwrap();
    let p = start(dir.path(), &cfg, &[all]);
    tailing(&p).await;
    wait_same(&dep, (&src, "sessions"), (&dst, "sessions")).await;
    wait_until("the sessions index on the backup", WAIT, || async {
        index_names(&dep.db(&dst), "sessions").await == ["_id_", "user_1"]
    })
    .await;
    let log = p.log_text();
    assert_eq!(log.matches(COPIED).count(), 1, "{log}");
    // Followed from then on.
    sessions
        .update_one(doc! {"_id": 7}, doc! {"$inc": {"n": 1}})
        .await
        .unwrap();
    sessions.delete_one(doc! {"_id": 8}).await.unwrap();
    wait_same(&dep, (&src, "sessions"), (&dst, "sessions")).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders")).await;
    assert_eq!(p.terminate(WAIT).await, Some(0));

    // The new selection is stored: the next start copies nothing again.
    let p = start(dir.path(), &cfg, &[include(&format!("{src}.*"))]);
    tailing(&p).await;
    let log = p.log_text();
    assert_eq!(p.terminate(WAIT).await, Some(0));
    // (The log holds every run in this directory: the message is still the second run's.)
    assert_eq!(log.matches(COPIED).count(), 1, "{log}");
}
