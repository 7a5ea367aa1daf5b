//! The protected routes: `/status` and `/api/v1/{status, config, pause, resume,
//! openapi.json}`. JSON in and out; errors are `{"error": "..."}` with a 4xx code.

use crate::control::auth::{self, remote, Guard};
use crate::control::{publish_metrics, Pauses, UnknownCollection, ROUTES};
use crate::ops::metrics::Metrics;
use crate::ops::status::Status;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body read (a pause body is a few bytes).
const MAX_BODY: usize = 64 * 1024;
/// How long a pause or resume waits for the checkpoint to hold the new state before answering
/// `stored: false` (no run writing checkpoints yet, or the target unreachable).
const STORE_WAIT: Duration = Duration::from_secs(5);

/// What the handlers read.
#[derive(Clone)]
pub struct Api {
    pub status: Status,
    pub metrics: Arc<Metrics>,
    /// The effective configuration, secrets already redacted.
    pub config: Arc<Value>,
}

/// `/status` and `/api/v1/*` behind [`auth::check`].
pub fn router(api: Api, guard: Guard) -> Router {
    let paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    debug_assert_eq!(
        paths,
        [
            "/status",
            "/api/v1/status",
            "/api/v1/config",
            "/api/v1/pause",
            "/api/v1/resume",
            "/api/v1/openapi.json",
            "/api/v1/failed",
            "/api/v1/failed/retry",
            "/api/v1/failed/skip",
            "/api/v1/resync",
            "/api/v1/jobs/{id}",
            "/api/v1/runs",
            "/api/v1/events",
            "/api/v1/divergences",
            "/api/v1/held",
            "/api/v1/held/release",
            "/api/v1/held/discard",
            "/api/v1/sync/status",
            "/api/v1/sync/now",
            "/api/v1/conflicts",
            "/api/v1/conflicts/{id}/resolve",
            "/api/v1/conflicts/auto-resolve",
            "/api/v1/history"
        ]
    );
    Router::new()
        .route(paths[0], get(status))
        .route(paths[1], get(api_status))
        .route(paths[2], get(config))
        .route(paths[3], post(pause))
        .route(paths[4], post(resume))
        .route(paths[5], get(openapi))
        .route(paths[6], get(crate::control::failed::list))
        .route(paths[7], post(crate::control::failed::retry))
        .route(paths[8], post(crate::control::failed::skip))
        .route(paths[9], post(crate::control::resync::submit))
        .route(paths[10], get(crate::control::resync::show))
        .route(paths[11], get(crate::control::runs::list))
        .route(paths[12], get(crate::control::events::stream))
        .route(paths[13], get(crate::verify::divergences::list))
        .route(paths[14], get(crate::control::holds_api::list))
        .route(paths[15], post(crate::control::holds_api::release))
        .route(paths[16], post(crate::control::holds_api::discard))
        .route(paths[17], get(crate::sync::api::status))
        .route(paths[18], post(crate::sync::api::now))
        .route(paths[19], get(crate::sync::api::list))
        .route(paths[20], post(crate::sync::api::resolve))
        .route(paths[21], post(crate::sync::api::auto_resolve))
        .route(paths[22], get(crate::control::history::versions))
        .with_state(api)
        .route_layer(axum::middleware::from_fn_with_state(guard, auth::check))
}

async fn status(State(api): State<Api>) -> Json<Value> {
    Json(api.status.to_json())
}

/// What `/status` shows, plus the paused state.
async fn api_status(State(api): State<Api>) -> Json<Value> {
    let mut v = api.status.to_json();
    v["paused"] = api.status.pauses().to_json();
    v["parked_documents"] = api.status.parked().lock().len().into();
    v["resync"] = api.status.jobs().summary();
    v["held"] = api.status.holds().to_json()["held"].take();
    Json(v)
}

async fn config(State(api): State<Api>) -> Json<Value> {
    Json((*api.config).clone())
}

async fn openapi() -> Json<Value> {
    Json(crate::control::openapi::document())
}

/// Body of pause and resume: absent or `{}` means everything.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    collection: Option<String>,
}

async fn pause(State(api): State<Api>, req: Request) -> Response {
    change(api, req, "pause").await
}

async fn resume(State(api): State<Api>, req: Request) -> Response {
    change(api, req, "resume").await
}

async fn change(api: Api, req: Request, action: &'static str) -> Response {
    let who = remote(&req);
    let target = match read_target(req).await {
        Ok(t) => t,
        Err(message) => {
            tracing::warn!(remote = %who, action, result = "bad_request", "control request refused: {message}");
            return bad_request(message);
        }
    };
    let pauses: &Pauses = api.status.pauses();
    let coll = target.collection.as_deref();
    let outcome = match action {
        "pause" => pauses.pause(coll),
        _ => pauses.resume(coll),
    };
    let what = coll.unwrap_or(crate::control::ALL);
    match outcome {
        Ok(changed) => {
            publish_metrics(pauses, &api.metrics);
            if changed {
                let kind = if action == "pause" {
                    "paused"
                } else {
                    "resumed"
                };
                (api.status.bus()).emit(kind, json!({ "collection": what }));
            }
            let stored = pauses.wait_stored(pauses.version(), STORE_WAIT).await;
            tracing::info!(remote = %who, action, collection = what, changed, stored, result = "ok", "control request");
            Json(json!({
                "action": action,
                "collection": what,
                "changed": changed,
                "stored": stored,
                "paused": pauses.to_json(),
            }))
            .into_response()
        }
        Err(UnknownCollection(name)) => {
            let known = pauses.known();
            tracing::warn!(remote = %who, action, collection = %name, result = "bad_request", "control request refused: unknown collection");
            bad_request(format!(
                "unknown collection \"{name}\": not among the replicated collections {known:?}"
            ))
        }
    }
}

async fn read_target(req: Request) -> Result<Target, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Target::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the body must be empty or {{\"collection\": \"<name>\"}}: {e}"))
}

pub(crate) fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}
