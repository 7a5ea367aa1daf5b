//! Webhooks through the binary to a local receiver (axum): signature and headers, order,
//! retries while the receiver answers 500 then recovers, and replication that never waits for
//! a receiver that never answers.

use crate::control::{post_authed, started, token_config};
use crate::support::http::{metric_value, series};
use crate::support::procs::free_port;
use crate::support::{converge, wait_until, Deployment};
use axum::http::{HeaderMap, StatusCode};
use bson::{doc, Document};
use hmac::{Hmac, KeyInit, Mac};
use mongo_replicator::config::{Config, Secret, WebhookConfig, WebhookFormat};
use mongo_replicator::ops::metrics::names;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec-5d1e-notify-test";

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
    answered: u16,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests still to answer 500.
    failures: Arc<Mutex<usize>>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let code = {
        let mut left = r.failures.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    };
    let answered = code.as_u16();
    r.got.lock().unwrap().push(Received {
        headers,
        body,
        answered,
    });
    code
}

async fn receiver(failures: usize) -> (Receiver, SocketAddr) {
    let r = Receiver::default();
    *r.failures.lock().unwrap() = failures;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, addr)
}

fn with_hook(mut cfg: Config, addr: SocketAddr, events: &[&str]) -> Config {
    cfg.notify.max_retry_seconds = 120;
    cfg.notify.webhooks = vec![WebhookConfig {
        url: format!("http://{addr}/hook"),
        secret: Secret::new(SECRET),
        events: events.iter().map(|e| e.to_string()).collect(),
        format: WebhookFormat::Json,
    }];
    cfg
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Checks `X-Replicator-Signature` as a receiver would: HMAC-SHA256 of "<t>.<body>".
fn assert_signed(r: &Received) {
    let sig = header(r, "x-replicator-signature");
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature format: {sig}"));
    let t: u64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        t <= now && now - t < 600,
        "t is the sending time: {t} vs {now}"
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("signature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_in_order_and_retried_until_the_receiver_recovers() {
    let dep = Deployment::start().await;
    let (r, addr) = receiver(3).await;
    let cfg = with_hook(
        token_config(&dep, "notify_hook", &["orders"]),
        addr,
        &["paused", "resumed"],
    );
    let (_dir, p) = super::start(&dep, &cfg).await;
    let one = Some(r#"{"collection": "orders"}"#);
    for (path, body) in [
        ("/api/v1/pause", None),
        ("/api/v1/resume", None),
        ("/api/v1/pause", one),
        ("/api/v1/resume", one),
    ] {
        assert_eq!(post_authed(p.http, path, body).await.code, 200);
    }
    wait_until("4 deliveries accepted", WAIT, || async {
        r.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.answered == 200)
            .count()
            >= 4
    })
    .await;
    let got = r.got.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        7,
        "3 answered 500 (retried), then 4 accepted: {got:?}"
    );
    for g in &got {
        assert_signed(g);
        let body: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        assert_eq!(header(g, "x-replicator-event"), body["type"]);
        assert!(body["at"].is_string() && body["id"].is_u64(), "{body}");
    }
    // The first event was retried (same delivery id) until accepted; nothing overtook it.
    let first = header(&got[0], "x-replicator-delivery");
    assert!(got[..4]
        .iter()
        .all(|g| header(g, "x-replicator-delivery") == first));
    let ok: Vec<&Received> = got.iter().filter(|g| g.answered == 200).collect();
    let mut deliveries: Vec<&str> = ok
        .iter()
        .map(|g| header(g, "x-replicator-delivery"))
        .collect();
    let order: Vec<(String, String)> = ok
        .iter()
        .map(|g| {
            let b: serde_json::Value = serde_json::from_str(&g.body).unwrap();
            (
                b["type"].as_str().unwrap().into(),
                b["data"]["collection"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("paused", "all"),
        ("resumed", "all"),
        ("paused", "orders"),
        ("resumed", "orders"),
    ]
    .map(|(k, c)| (k.to_string(), c.to_string()));
    assert_eq!(order, want, "in order per webhook");
    deliveries.dedup();
    assert_eq!(deliveries.len(), 4, "each delivery has its own id");
    let metric = |result: &str| series(names::NOTIFY_DELIVERIES_TOTAL, "result", result);
    let text = p.get("/metrics").await.unwrap().1;
    assert_eq!(metric_value(&text, &metric("ok")), 4.0);
    assert_eq!(metric_value(&text, &metric("retried")), 3.0);
    assert_eq!(metric_value(&text, &metric("failed")), 0.0);
    assert!(!p.log_text().contains(SECRET), "the secret is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_never_waits_for_a_receiver_that_never_answers() {
    let dep = Deployment::start().await;
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let addr = silent.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for s in silent.incoming().flatten() {
            keep.lock().unwrap().push(s);
        }
    });
    let cfg = with_hook(token_config(&dep, "notify_silent", &["orders"]), addr, &[]);
    let orders = dep
        .db(&cfg.source.database)
        .collection::<Document>("orders");
    orders.insert_one(doc! {"_id": 0}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = started(dir.path(), &cfg).await;
    for _ in 0..3 {
        post_authed(p.http, "/api/v1/pause", None).await;
        post_authed(p.http, "/api/v1/resume", None).await;
    }
    let docs: Vec<Document> = (1..=300).map(|i| doc! {"_id": i, "v": i}).collect();
    orders.insert_many(docs).await.unwrap();
    converge(&dep, &cfg, WAIT).await;
    wait_until("the receiver was called", WAIT, || async {
        !held.lock().unwrap().is_empty()
    })
    .await;
    let ok = p
        .metric(&series(names::NOTIFY_DELIVERIES_TOTAL, "result", "ok"))
        .await;
    assert_eq!(ok, 0.0, "nothing was delivered, yet the backup converged");
}

/// An `https://` webhook speaks TLS (never plaintext) and trusts only the public roots: a
/// receiver with an unknown certificate authority is never delivered to, counted `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_webhooks_speak_tls_and_refuse_an_unknown_authority() {
    let dep = Deployment::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = Arc::new(Mutex::new(Vec::new()));
    let seen = first_bytes.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let mut b = [0u8; 1];
            if s.read_exact(&mut b).await.is_ok() {
                seen.lock().unwrap().push(b[0]);
            }
        }
    });
    let mut cfg = token_config(&dep, "notify_https", &["orders"]);
    cfg.notify.webhooks = vec![WebhookConfig {
        url: format!("https://localhost:{port}/hook"),
        secret: Secret::new(SECRET),
        events: vec!["paused".into()],
        format: WebhookFormat::Slack,
    }];
    cfg.notify.max_retry_seconds = 2;
    let (_dir, p) = super::start(&dep, &cfg).await;
    assert_eq!(post_authed(p.http, "/api/v1/pause", None).await.code, 200);
    let failed = series(names::NOTIFY_DELIVERIES_TOTAL, "result", "failed");
    wait_until("the delivery failed", WAIT, || async {
        p.metric(&failed).await == 1.0
    })
    .await;
    let bytes = first_bytes.lock().unwrap().clone();
    assert!(
        !bytes.is_empty() && bytes.iter().all(|b| *b == 0x16),
        "TLS handshakes only: {bytes:?}"
    );
    assert_eq!(
        p.metric(&series(names::NOTIFY_DELIVERIES_TOTAL, "result", "ok"))
            .await,
        0.0
    );
}
