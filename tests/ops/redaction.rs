//! Document values stay out of what operators see: a duplicate-key conflict whose server
//! message carries the conflicting key's value (an email) is shown in `/status` and the logs
//! with its code, collection and the key's field names, never the value.

use crate::support::procs::ReplicatorProcess;
use crate::support::{config, converge, create_index, db_names, Deployment};
use bson::{doc, Document};
use std::time::Duration;

const EMAIL: &str = "jane.private@example.org";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_key_conflict_never_shows_the_key_value() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("redactdup");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dep.uri, &src, &dst);
    // Every line the binary writes, so a value logged at any level is caught.
    cfg.log.level = "debug".into();
    let users = dep.db(&src).collection::<Document>("users");
    users.insert_one(doc! {"_id": 0}).await.unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    converge(&dep, &cfg, Duration::from_secs(30)).await;

    // A backup-only unique index and document take the email the source's new document has.
    let target = dep.db(&dst);
    create_index(&target, "users", doc! {"email": 1}, true).await;
    target
        .collection::<Document>("users")
        .insert_one(doc! {"_id": 99, "email": EMAIL})
        .await
        .unwrap();
    users
        .insert_one(doc! {"_id": 1, "email": EMAIL})
        .await
        .unwrap();

    let value = p.status_after_conflict().await;
    let status = value.to_string();
    let last_error = value["last_error"].to_string();
    assert!(
        last_error.contains("11000") && last_error.contains("users"),
        "/status does not name the code and collection: {last_error}"
    );
    assert!(
        last_error.contains("email"),
        "/status does not name the key's field: {last_error}"
    );
    assert!(
        !status.contains("jane.private"),
        "/status shows the key value: {status}"
    );
    let log = p.log_text();
    assert!(
        log.contains("11000") || log.contains("duplicate"),
        "the conflict was not logged: {log}"
    );
    p.terminate(Duration::from_secs(30)).await;
    let log = std::fs::read_to_string(dir.path().join("replicator.log")).unwrap();
    let leaked: Vec<&str> = log.lines().filter(|l| l.contains("jane.private")).collect();
    assert!(leaked.is_empty(), "the logs show the key value: {leaked:?}");
}
