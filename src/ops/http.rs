//! The HTTP face (axum): open `/metrics`, `/healthz`, `/readyz` for Prometheus and probes and
//! `/`, the dashboard page ([`crate::control::dashboard`]);
//! `/status` and the control API `/api/v1/*` behind the bearer token when one is set
//! ([`crate::control::api`]).
//!
//! Liveness and readiness differ on purpose: `/healthz` only says the process is alive and not
//! stopping (a restart would not help anything else), `/readyz` says the backup is being kept
//! current (both sides reachable, stream open, not stalled; a pause is not a failure).

use crate::config::Secret;
use crate::control::api::Api;
use crate::control::auth::Guard;
use crate::ops::metrics::{Metrics, CONTENT_TYPE};
use crate::ops::status::Status;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the server keeps answering after `cancel`, so probes and a last scrape see the
/// stopping state (`/healthz` 503) while the pipeline drains. The process usually exits first.
pub const SHUTDOWN_LINGER: Duration = Duration::from_secs(5);

/// What the server serves: the shared state, the token in force and the redacted config.
pub struct Endpoints {
    pub metrics: Arc<Metrics>,
    pub status: Status,
    pub token: Option<Secret>,
    /// `GET /api/v1/config` (already redacted).
    pub config: serde_json::Value,
}

/// Binds `addr` (port 0 allowed) and serves until `cancel`, without a token; returns the
/// bound address. `/healthz` answers 503 once `cancel` is triggered.
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
    let endpoints = Endpoints {
        metrics,
        status,
        token: None,
        config: serde_json::Value::Null,
    };
    serve_endpoints(addr, endpoints, cancel, linger).await
}

/// Serves `endpoints` on `addr` until `cancel` (+ `linger`); returns the bound address.
pub async fn serve_endpoints(
    addr: SocketAddr,
    endpoints: Endpoints,
    cancel: CancellationToken,
    linger: Duration,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen for HTTP on {addr}: {e}"))
    })?;
    let bound = listener.local_addr()?;
    let protected = endpoints.token.is_some();
    let app = router(endpoints, cancel.clone());
    let shutdown = async move {
        cancel.cancelled().await;
        tokio::time::sleep(linger).await;
    };
    tokio::spawn(async move {
        if let Err(err) = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        {
            tracing::error!(error = %err, addr = %bound, "HTTP server stopped");
        }
    });
    tracing::info!(addr = %bound, token_required = protected, "HTTP endpoints: /metrics /healthz /readyz / (dashboard) (open), /status /api/v1 (control)");
    Ok(bound)
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    status: Status,
    cancel: CancellationToken,
}

fn router(endpoints: Endpoints, cancel: CancellationToken) -> Router {
    let open = AppState {
        metrics: endpoints.metrics.clone(),
        status: endpoints.status.clone(),
        cancel,
    };
    let guard = Guard {
        token: endpoints.token,
        metrics: endpoints.metrics.clone(),
    };
    let api = Api {
        status: endpoints.status,
        metrics: endpoints.metrics,
        config: Arc::new(endpoints.config),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(open)
        // The dashboard page: open, it holds no data (its script calls /api/v1 with the token).
        .merge(crate::control::dashboard::router())
        .merge(crate::control::api::router(api, guard))
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
        None => (StatusCode::OK, state.status.ready_line()).into_response(),
        Some(line) => (StatusCode::SERVICE_UNAVAILABLE, line).into_response(),
    }
}
