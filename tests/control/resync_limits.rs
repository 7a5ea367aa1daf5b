//! Resync jobs at their limits, through the binary: a job waits while its collection is paused
//! (it repairs nothing until resumed); a document the backup refuses is parked by the job
//! (`apply.on_refused = "park"`) and heals once the conflict is gone, or fails the job
//! (`"stop"`: `resync --wait` exits 1) without quoting the conflicting value.

use super::resync::{
    damage, find, finished, ints, resync_cli, setup, setup_with, submit, TRAFFIC_IDS,
};
use super::{get_authed, json, post_authed};
use crate::support::{converge, wait_until};
use bson::{doc, Bson, Document};
use mongo_replicator::config::OnRefused;
use mongodb::Collection;
use std::time::Duration;

/// The conflicting value: never expected in any answer.
const EMAIL: &str = "dup-9d1f@example.org";

/// `POST /api/v1/{action}` (pause, resume) of `orders`.
async fn orders(p: &crate::support::procs::ReplicatorProcess, action: &str) {
    let body = Some(r#"{"collection": "orders"}"#);
    let reply = post_authed(p.http, &format!("/api/v1/{action}"), body).await;
    assert_eq!(reply.code, 200, "{action}: {}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_waits_while_its_collection_is_paused_then_heals_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("resync_paused", dir.path(), TRAFFIC_IDS).await;
    let (dep, cfg, p, backup) = (&s.dep, &s.cfg, &s.p, &s.backup);
    orders(p, "pause").await;
    damage(backup, &ints([1]), &ints([2]), &ints([-1])).await;
    let job = submit(p, r#"{"collection": "orders"}"#).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shown = json(&get_authed(p.http, &format!("/api/v1/jobs/{job}")).await);
    assert!(
        matches!(shown["state"].as_str(), Some("queued" | "running")),
        "{shown}"
    );
    assert!(
        find(backup, &Bson::Int32(1)).await.is_none(),
        "nothing repaired while paused"
    );
    assert!(find(backup, &Bson::Int32(-1)).await.is_some());

    orders(p, "resume").await;
    let shown = finished(p, &job).await;
    assert_eq!(shown["state"], "done", "{shown}");
    assert_eq!(shown["counts"]["deleted"], 1, "{shown}");
    converge(dep, cfg, super::resync::WAIT).await;
}

/// On the source `_id` 5 has [`EMAIL`] and 6 another one; the backup gets a unique index on
/// `email`, loses 5, and 6 takes [`EMAIL`] there: writing 5 back conflicts with 6.
async fn conflict(source: &Collection<Document>, backup: &Collection<Document>) {
    source
        .update_one(doc! {"_id": 5}, doc! {"$set": {"email": EMAIL}})
        .await
        .unwrap();
    source
        .update_one(
            doc! {"_id": 6},
            doc! {"$set": {"email": "other@example.org"}},
        )
        .await
        .unwrap();
    wait_until(
        "the emails are on the backup",
        super::resync::WAIT,
        || async {
            find(backup, &Bson::Int32(6))
                .await
                .is_some_and(|d| d.get_str("email").is_ok())
        },
    )
    .await;
    backup
        .client()
        .database(backup.namespace().db.as_str())
        .run_command(doc! {"createIndexes": "orders", "indexes": [{
        "key": {"email": 1}, "name": "email_unique", "unique": true,
        "partialFilterExpression": {"email": {"$exists": true}}}]})
        .await
        .unwrap();
    backup.delete_one(doc! {"_id": 5}).await.unwrap();
    backup
        .update_one(doc! {"_id": 6}, doc! {"$set": {"email": EMAIL}})
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_the_backup_refuses_is_parked_by_the_job_and_heals_once_the_conflict_is_repaired(
) {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("resync_parks", dir.path(), TRAFFIC_IDS).await;
    let (dep, cfg, p, source, backup) = (&s.dep, &s.cfg, &s.p, &s.source, &s.backup);
    conflict(source, backup).await;
    let job = submit(p, r#"{"collection": "orders", "ids": [5]}"#).await;
    let shown = finished(p, &job).await;
    assert_eq!(shown["state"], "done", "{shown}");
    assert_eq!(shown["counts"]["parked"], 1, "{shown}");
    let failed = get_authed(p.http, "/api/v1/failed").await;
    assert!(!failed.body.contains(EMAIL), "{}", failed.body);
    assert_eq!(
        json(&failed)["documents"][0]["id"],
        serde_json::json!({"$numberInt": "5"}),
        "{}",
        failed.body
    );

    // Repairing 6 frees the value; the parked 5 then heals (retried now, not after backoff).
    let job = submit(
        p,
        r#"{"collection": "orders", "ids": [{"$numberInt": "6"}]}"#,
    )
    .await;
    let shown = finished(p, &job).await;
    assert_eq!(
        (
            shown["state"].as_str(),
            shown["counts"]["rewritten"].as_u64()
        ),
        (Some("done"), Some(1)),
        "{shown}"
    );
    let retry = post_authed(p.http, "/api/v1/failed/retry", Some(r#"{"all": true}"#)).await;
    assert_eq!(retry.code, 200, "{}", retry.body);
    wait_until("5 healed", super::resync::WAIT, || async {
        find(backup, &Bson::Int32(5)).await == find(source, &Bson::Int32(5)).await
    })
    .await;
    assert_eq!(
        json(&get_authed(p.http, "/api/v1/failed").await)["documents"],
        serde_json::json!([])
    );
    // The index only the backup has is the one difference left.
    backup.drop_index("email_unique").await.unwrap();
    converge(dep, cfg, super::resync::WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_refused_stop_a_refused_document_fails_the_job_and_resync_wait_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let stop = |cfg: &mut mongo_replicator::config::Config| cfg.apply.on_refused = OnRefused::Stop;
    let s = setup_with("resync_stops", dir.path(), TRAFFIC_IDS, stop).await;
    let (p, source, backup) = (&s.p, &s.source, &s.backup);
    conflict(source, backup).await;
    let args = ["--collection", "orders", "--id", "5", "--wait"];
    let (code, out, err) = resync_cli(p, &args).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("failed") && err.contains("failed"),
        "{out}{err}"
    );
    assert!(
        !out.contains(EMAIL) && !err.contains(EMAIL),
        "the value leaked: {out}{err}"
    );
    // The tail itself goes on.
    assert_eq!(p.get("/readyz").await.map(|r| r.0), Some(200));
}

/// The job's reads fail for a while (transient, code 91): the job keeps trying, the error is
/// recorded, and once reads work again it compares from the start and heals the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_whose_reads_fail_for_a_while_compares_again_and_heals() {
    crate::support::skip_on_real_server!(crate::support::Needs::FailPoints);
    let dir = tempfile::tempdir().unwrap();
    let s = setup("resync_reads", dir.path(), TRAFFIC_IDS).await;
    let (dep, cfg, p, backup) = (&s.dep, &s.cfg, &s.p, &s.backup);
    damage(backup, &ints([1]), &ints([2]), &ints([-1])).await;
    crate::support::fail_commands(dep, &["find"], 91).await;
    let job = submit(p, r#"{"collection": "orders"}"#).await;
    wait_until("the failed read recorded", super::resync::WAIT, || async {
        let status = json(&get_authed(p.http, "/api/v1/status").await);
        status["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reading orders"))
    })
    .await;
    let shown = json(&get_authed(p.http, &format!("/api/v1/jobs/{job}")).await);
    assert_eq!(shown["state"], "running", "{shown}");
    crate::support::fail_commands_off(dep).await;
    let shown = finished(p, &job).await;
    assert_eq!(shown["state"], "done", "{shown}");
    converge(dep, cfg, super::resync::WAIT).await;
}
