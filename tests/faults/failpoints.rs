//! Server-side faults through `failCommand` (scenario 5 of docs/RELIABILITY.md), aimed at the
//! replicator only (`appName: "mongo-replicator"`): target write errors with and without
//! `RetryableWriteError`, step-down codes, dropped connections; source `getMore`/`aggregate`
//! errors with and without `ResumableChangeStreamError`; and a real conflict (a unique index that
//! exists only on the target), which must be reported, not spun on, not skipped, and resolved
//! once the operator drops the index.

use crate::support::faults;
use crate::support::http::series;
use crate::support::procs::{cpu_seconds, ReplicatorProcess};
use crate::support::{
    assert_identical_between, config, converge, create_index, db_names, skip_on_real_server,
    two_deployments, wait_until, Deployment, Needs, Replicator,
};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

/// `failCommand` for the replicator's connections only, firing `times` times.
fn fail_point(commands: &[&str], times: i32, data: Document) -> Document {
    let mut d = doc! {"failCommands": commands, "appName": "mongo-replicator"};
    d.extend(data);
    doc! {"configureFailPoint": "failCommand", "mode": {"times": times}, "data": d}
}

async fn inserted(r: &Replicator) -> f64 {
    r.metric(&series(names::EVENTS_APPLIED_TOTAL, "op", "insert"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_server_errors_on_both_sides_are_retried_exactly() {
    skip_on_real_server!(Needs::FailPoints);
    let (source, target, cfg) = two_deployments("failcmd").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let orders = source.db(&src).collection::<Document>("orders");
    orders.insert_one(doc! {"_id": -1}).await.unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    let no_labels: Vec<String> = Vec::new();
    let target_faults = [
        (
            "91 with RetryableWriteError",
            doc! {"errorCode": 91, "errorLabels": ["RetryableWriteError"]},
        ),
        (
            "189 without labels",
            doc! {"errorCode": 189, "errorLabels": no_labels.clone()},
        ),
        ("10107 NotWritablePrimary", doc! {"errorCode": 10107}),
        (
            "11600 InterruptedAtShutdown",
            doc! {"errorCode": 11600, "errorLabels": no_labels.clone()},
        ),
        (
            "262 with RetryableWriteError",
            doc! {"errorCode": 262, "errorLabels": ["RetryableWriteError"]},
        ),
        ("closeConnection", doc! {"closeConnection": true}),
    ];
    let source_faults = [
        (
            "getMore 91 with ResumableChangeStreamError",
            "getMore",
            doc! {"errorCode": 91, "errorLabels": ["ResumableChangeStreamError"]},
        ),
        (
            "getMore 91 without labels",
            "getMore",
            doc! {"errorCode": 91, "errorLabels": no_labels.clone()},
        ),
        (
            "getMore 43 CursorNotFound",
            "getMore",
            doc! {"errorCode": 43, "errorLabels": no_labels.clone()},
        ),
        (
            "getMore closeConnection",
            "getMore",
            doc! {"closeConnection": true},
        ),
    ];
    let mut next = 0;
    let mut round = |name: String, side: &'static str, fp: Document| {
        let (source, target, orders, r) = (&source, &target, &orders, &r);
        let first = next;
        next += 25;
        async move {
            let before = inserted(r).await;
            let retries_before = r.metric(names::RETRIES_TOTAL).await;
            let dep = if side == "target" { target } else { source };
            dep.db("admin").run_command(fp).await.unwrap();
            for i in first..first + 25 {
                orders.insert_one(doc! {"_id": i}).await.unwrap();
            }
            // Resumed streams may deliver late (see RELIABILITY.md): wait for all 25, then
            // make sure no more (duplicates) follow.
            let t0 = std::time::Instant::now();
            wait_until(
                "all 25 inserts applied",
                Duration::from_secs(30),
                || async { inserted(r).await - before >= 25.0 },
            )
            .await;
            eprintln!("{side} {name}: delivered after {:?}", t0.elapsed());
            r.caught_up(Duration::from_secs(60)).await;
            let applied = inserted(r).await - before;
            let retries = r.metric(names::RETRIES_TOTAL).await - retries_before;
            eprintln!("{side} {name}: applied {applied}, retries {retries}");
            assert_eq!(
                applied, 25.0,
                "{side} {name}: each insert applied exactly once"
            );
            if side == "target" {
                assert!(
                    retries >= 1.0,
                    "{side} {name}: the failure was not seen/retried"
                );
            }
            dep.db("admin")
                .run_command(doc! {"configureFailPoint": "failCommand", "mode": "off"})
                .await
                .unwrap();
        }
    };
    for (name, data) in target_faults {
        // 3 failures: more than the driver's own single retry of a retryable write.
        round(
            name.to_string(),
            "target",
            fail_point(&["update", "delete"], 3, data),
        )
        .await;
    }
    for (name, cmd, data) in source_faults {
        round(name.to_string(), "source", fail_point(&[cmd], 2, data)).await;
    }
    assert_identical_between(&cfg, &source.db(&src), &target.db(&dst)).await;
    faults::settle(&r).await;
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_only_unique_index_is_reported_stalls_and_resolves_after_the_operator_fixes_it() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("conflict");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.log.level = "warn".into();
    // "stop" keeps the stall this test pins; "park" is control::failed's.
    cfg.apply.on_refused = mongo_replicator::config::OnRefused::Stop;
    let users = dep.db(&src).collection::<Document>("users");
    users
        .insert_one(doc! {"_id": 0, "email": "zero"})
        .await
        .unwrap();
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    converge(&dep, &cfg, Duration::from_secs(30)).await;

    // The operator adds a unique index on the backup only; the source then holds two
    // documents with the same email: the second cannot be applied.
    create_index(&dep.db(&dst), "users", doc! {"email": 1}, true).await;
    users
        .insert_one(doc! {"_id": 1, "email": "dup"})
        .await
        .unwrap();
    users
        .insert_one(doc! {"_id": 2, "email": "dup"})
        .await
        .unwrap();

    let status = p.status_after_conflict().await;
    assert!(
        status["last_error"].to_string().contains("conflict")
            || status["last_error"].to_string().contains("E11000")
            || status["last_error"].to_string().contains("duplicate"),
        "/status last_error does not name the conflict: {status}"
    );
    wait_until("/readyz 503 (stalled)", Duration::from_secs(45), || async {
        p.get("/readyz").await.is_some_and(|(code, _)| code == 503)
    })
    .await;
    assert_eq!(p.metric(names::STALLED).await, 1.0);
    // Not spinning: the process is nearly idle while it waits.
    let cpu_before = cpu_seconds(p.child.id()).expect("replicator running");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = cpu_seconds(p.child.id()).expect("replicator running") - cpu_before;
    assert!(
        cpu < 1.0,
        "{cpu:.2} CPU seconds in 5 s while blocked: spinning"
    );
    // Not skipped: one of the two (parallel writers may apply either first) is still missing.
    let dups = dep
        .db(&dst)
        .collection::<Document>("users")
        .count_documents(doc! {"email": "dup"})
        .await
        .unwrap();
    assert_eq!(
        dups, 1,
        "exactly one of the two documents can be on the target"
    );
    let log = p.log_text();
    assert!(log.contains("conflict"), "not logged:\n{log}");

    // The operator drops the target-only index: the same event now applies, nothing is lost.
    dep.db(&dst)
        .collection::<Document>("users")
        .drop_index("email_1")
        .await
        .unwrap();
    converge(&dep, &cfg, Duration::from_secs(60)).await;
    wait_until("/readyz 200 again", Duration::from_secs(30), || async {
        p.get("/readyz").await.is_some_and(|(code, _)| code == 200)
    })
    .await;
    assert_eq!(
        p.metric(&series(names::EVENTS_APPLIED_TOTAL, "op", "insert"))
            .await,
        2.0,
        "both inserts applied exactly once"
    );
    assert_eq!(p.terminate(Duration::from_secs(10)).await, Some(0));
}
