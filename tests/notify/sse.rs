//! `GET /api/v1/events` through the binary: behind the token, the startup events from the
//! ring, live events, and after a disconnect exactly the missed events with `Last-Event-ID`.

use super::SseClient;
use crate::control::{post_authed, token_config, TOKEN};
use crate::support::http::try_get;
use crate::support::{wait_until, Deployment};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_live_and_resume_with_last_event_id() {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "notify_sse", &["orders"]);
    let (_dir, p) = super::start(&dep, &cfg).await;
    wait_until("ready", Duration::from_secs(60), || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    let anonymous = try_get(p.http, "/api/v1/events").await.unwrap();
    assert_eq!(anonymous.code, 401, "the stream is behind the token");

    let mut sse = SseClient::connect(p.http, TOKEN, None).await;
    assert_eq!(sse.code, 200);
    assert!(
        sse.content_type.starts_with("text/event-stream"),
        "{}",
        sse.content_type
    );
    // From the ring: the run so far, in order.
    let startup = sse.until("copy_finished").await;
    let kinds: Vec<&str> = startup.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"copy_started"), "{kinds:?}");
    assert!(startup.windows(2).all(|w| w[0].id < w[1].id), "{startup:?}");
    assert_eq!(
        startup[0].data["id"], startup[0].id,
        "data is {{id, type, at, data}}"
    );

    // Live.
    assert_eq!(post_authed(p.http, "/api/v1/pause", None).await.code, 200);
    let seen = sse.until("paused").await.pop().unwrap();
    assert_eq!(seen.data["data"]["collection"], "all");
    drop(sse);

    // Missed while disconnected.
    let one = Some(r#"{"collection": "orders"}"#);
    for (path, body) in [
        ("/api/v1/resume", None),
        ("/api/v1/pause", one),
        ("/api/v1/resume", one),
    ] {
        assert_eq!(post_authed(p.http, path, body).await.code, 200);
    }
    let mut again = SseClient::connect(p.http, TOKEN, Some(seen.id)).await;
    let mut missed = Vec::new();
    while missed
        .iter()
        .filter(|e: &&super::SseEvent| e.kind == "paused" || e.kind == "resumed")
        .count()
        < 3
    {
        missed.push(again.next().await);
    }
    let ids: Vec<u64> = missed.iter().map(|e| e.id).collect();
    let want: Vec<u64> = (seen.id + 1..=seen.id + ids.len() as u64).collect();
    assert_eq!(
        ids, want,
        "exactly the missed events, none repeated: {missed:?}"
    );
    let controls: Vec<(String, String)> = missed
        .iter()
        .filter(|e| e.kind == "paused" || e.kind == "resumed")
        .map(|e| {
            (
                e.kind.clone(),
                e.data["data"]["collection"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("resumed", "all"),
        ("paused", "orders"),
        ("resumed", "orders"),
    ]
    .map(|(k, c)| (k.to_string(), c.to_string()));
    assert_eq!(controls, want);
}

/// Paused with writes pending, the lag rises: `progress` each second while catching up and
/// `lag_above` past `notify.lag_threshold_seconds`; resumed, `lag_below` once under half of it,
/// with no second `lag_above` in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_events_and_progress_while_catching_up() {
    let dep = Deployment::start().await;
    let mut cfg = token_config(&dep, "notify_lag", &["orders"]);
    cfg.notify.lag_threshold_seconds = 2;
    let (_dir, p) = super::start(&dep, &cfg).await;
    wait_until("ready", Duration::from_secs(60), || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    let mut sse = SseClient::connect(p.http, TOKEN, None).await;
    sse.until("copy_finished").await;
    assert_eq!(post_authed(p.http, "/api/v1/pause", None).await.code, 200);
    let orders = dep
        .db(&cfg.source.database)
        .collection::<bson::Document>("orders");
    for i in 2..20 {
        orders.insert_one(bson::doc! {"_id": i}).await.unwrap();
    }
    let above = sse.until("lag_above").await.pop().unwrap();
    assert!(
        above.data["data"]["lag_seconds"].as_f64().unwrap() > 2.0,
        "{above:?}"
    );
    let progress = sse.until("progress").await.pop().unwrap();
    let data = &progress.data["data"];
    assert_eq!(data["phase"], "tailing", "{data}");
    assert!(data["lag_seconds"].as_f64().unwrap() >= 1.0, "{data}");
    assert_eq!(post_authed(p.http, "/api/v1/resume", None).await.code, 200);
    let after = sse.until("lag_below").await;
    assert!(after.iter().all(|e| e.kind != "lag_above"), "{after:?}");
    let below = after.last().unwrap();
    assert!(
        below.data["data"]["lag_seconds"].as_f64().unwrap() < 1.0,
        "{below:?}"
    );
}

/// A unique index only the backup has refuses two documents: `conflict_detected` and
/// `document_parked` (collection names only, never the duplicated value), then an operator's
/// retry is `document_retried`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_documents_and_retries_are_events_without_values() {
    const EMAIL: &str = "dup-91f3@example.org";
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "notify_parked", &["users"]);
    let users = crate::control::seeded_users(&dep, &cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let p = crate::control::started(dir.path(), &cfg).await;
    wait_until("ready", Duration::from_secs(60), || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    let mut sse = SseClient::connect(p.http, TOKEN, None).await;
    crate::control::refuse_two_users(&dep.db(&cfg.target.database), &users, EMAIL).await;
    let mut seen = sse.until("document_parked").await;
    assert!(
        seen.iter().any(|e| e.kind == "conflict_detected"),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().data["data"]["collection"], "users");
    let retry = post_authed(p.http, "/api/v1/failed/retry", Some(r#"{"all": true}"#)).await;
    assert_eq!(retry.code, 200, "{}", retry.body);
    seen.extend(sse.until("document_retried").await);
    let retried = seen.last().unwrap();
    assert!(
        retried.data["data"]["documents"].as_u64().unwrap() >= 1,
        "{retried:?}"
    );
    for e in &seen {
        assert!(!e.data.to_string().contains(EMAIL), "a value leaked: {e:?}");
    }
}
