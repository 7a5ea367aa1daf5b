//! The HTTP face: `/metrics`, `/healthz`, `/readyz`, `/status` (axum).
//!
//! Liveness and readiness differ on purpose: `/healthz` only says the process is alive and not
//! stopping (a restart would not help anything else), `/readyz` says the backup is being kept
//! current (both sides reachable, stream open, not stalled).

use crate::ops::metrics::{Metrics, CONTENT_TYPE};
use crate::ops::status::Status;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the server keeps answering after `cancel`, so probes and a last scrape see the
/// stopping state (`/healthz` 503) while the pipeline drains. The process usually exits first.
pub const SHUTDOWN_LINGER: Duration = Duration::from_secs(5);

/// Binds `addr` (port 0 allowed) and serves until `cancel`; returns the bound address.
/// `/healthz` answers 503 once `cancel` is triggered.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    status: Status,
    cancel: CancellationToken,
) -> std::io::Result<SocketAddr> {
    serve_with_linger(addr, metrics, status, cancel, SHUTDOWN_LINGER).await
}

/// [`serve`] with an explicit linger after `cancel` before the listener closes (tests use a short one).
pub async fn serve_with_linger(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    status: Status,
    cancel: CancellationToken,
    linger: Duration,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen for HTTP on {addr}: {e}"))
    })?;
    let bound = listener.local_addr()?;
    let app = router(AppState {
        metrics,
        status,
        cancel: cancel.clone(),
    });
    let shutdown = async move {
        cancel.cancelled().await;
        tokio::time::sleep(linger).await;
    };
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %err, addr = %bound, "HTTP server stopped");
        }
    });
    tracing::info!(addr = %bound, "HTTP endpoints: /metrics /healthz /readyz /status");
    Ok(bound)
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    status: Status,
    cancel: CancellationToken,
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.cancel.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let reason = if state.cancel.is_cancelled() {
        Some("not ready: stopping".to_string())
    } else {
        state.status.not_ready_reason()
    };
    match reason {
        None => (StatusCode::OK, "ready").into_response(),
        Some(line) => (StatusCode::SERVICE_UNAVAILABLE, line).into_response(),
    }
}

async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.status.to_json())
}
