//! The HTTP endpoints over real TCP, as Prometheus, Kubernetes probes and an operator's curl see them.

use crate::support::http::{series, try_get as get};
use mongo_replicator::ops::http::{serve, serve_with_linger};
use mongo_replicator::ops::metrics::{names, Metrics};
use mongo_replicator::ops::status::{Phase, Status};
use mongo_replicator::ops::{Op, Side};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

async fn start(linger: Duration) -> (SocketAddr, Arc<Metrics>, Status, CancellationToken) {
    let metrics = Metrics::new();
    let status = Status::new("ordersDB", "ordersDB_backup");
    let cancel = CancellationToken::new();
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let addr = serve_with_linger(
        local,
        metrics.clone(),
        status.clone(),
        cancel.clone(),
        linger,
    )
    .await
    .expect("serve");
    assert_ne!(addr.port(), 0, "the bound port is returned");
    (addr, metrics, status, cancel)
}

#[tokio::test]
async fn metrics_endpoint_serves_the_prometheus_text_format() {
    let (addr, metrics, _status, cancel) = start(Duration::from_millis(50)).await;
    metrics.retry();
    metrics.batch_applied(&[(Op::Update, 3)], 3, 0.01);
    let reply = get(addr, "/metrics").await.unwrap();
    assert_eq!(reply.code, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    // Exact sample lines of the text format.
    for line in [
        format!("{} 1\n", names::RETRIES_TOTAL),
        format!(
            "{} 3\n",
            series(names::EVENTS_APPLIED_TOTAL, "op", "update")
        ),
        format!("{}{{version=", names::BUILD_INFO),
    ] {
        assert!(
            reply.body.contains(&line),
            "no {line:?} in:\n{}",
            reply.body
        );
    }
    cancel.cancel();
}

#[tokio::test]
async fn status_endpoint_serves_json_without_connection_strings() {
    let (addr, _metrics, status, cancel) = start(Duration::from_millis(50)).await;
    status.set_phase(Phase::Tailing);
    status.add_applied(Op::Insert, 4);
    status.set_error("source", "connection reset");
    let reply = get(addr, "/status").await.unwrap();
    assert_eq!(reply.code, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON body");
    assert_eq!(v["phase"], "tailing");
    assert_eq!(v["source"]["database"], "ordersDB");
    assert_eq!(v["target"]["database"], "ordersDB_backup");
    assert_eq!(v["events_applied"]["insert"], 4);
    assert_eq!(v["last_error"]["kind"], "source");
    for key in [
        "last_applied_cluster_time",
        "lag_seconds",
        "last_checkpoint_time",
        "up",
        "stream_open",
        "stalled",
        "pending_indexes",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!(!reply.body.contains("mongodb://"));
    cancel.cancel();
}

#[tokio::test]
async fn readyz_follows_the_status_with_a_one_line_reason() {
    let (addr, _metrics, status, cancel) = start(Duration::from_millis(50)).await;
    let reply = get(addr, "/readyz").await.unwrap();
    assert_eq!(reply.code, 503);
    assert!(reply.body.contains("source unreachable"), "{}", reply.body);
    assert!(!reply.body.trim_end().contains('\n'));

    status.set_up(Side::Source, true);
    status.set_up(Side::Target, true);
    status.set_stream_open(true);
    assert_eq!(get(addr, "/readyz").await.unwrap().code, 200);

    status.set_stalled(true);
    let reply = get(addr, "/readyz").await.unwrap();
    assert_eq!(reply.code, 503);
    assert!(reply.body.contains("stalled"), "{}", reply.body);
    cancel.cancel();
}

#[tokio::test]
async fn healthz_turns_503_after_cancel_then_the_listener_closes() {
    let (addr, _metrics, status, cancel) = start(Duration::from_millis(1500)).await;
    status.set_up(Side::Source, true);
    status.set_up(Side::Target, true);
    status.set_stream_open(true);
    let reply = get(addr, "/healthz").await.unwrap();
    assert_eq!((reply.code, reply.body.as_str()), (200, "ok"));

    cancel.cancel();
    let reply = get(addr, "/healthz").await.unwrap();
    assert_eq!(reply.code, 503, "{}", reply.body);
    assert_eq!(
        get(addr, "/readyz").await.unwrap().code,
        503,
        "not ready while stopping"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server still listening 10 s after cancel"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let (addr, _metrics, _status, cancel) = start(Duration::from_millis(50)).await;
    assert_eq!(get(addr, "/nope").await.unwrap().code, 404);
    cancel.cancel();
}

#[tokio::test]
async fn bind_error_names_the_address() {
    let (addr, metrics, status, cancel) = start(Duration::from_millis(50)).await;
    let err = serve(addr, metrics, status, CancellationToken::new())
        .await
        .expect_err("port already taken");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    cancel.cancel();
}
