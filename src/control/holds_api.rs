//! `GET /api/v1/held`, `POST /api/v1/held/release` and `POST /api/v1/held/discard` (body
//! `{"collection": "<name>"}`): what `apply.hold` holds ([`crate::control::holds`]), and an
//! operator's decision. The answer waits (up to [`DECIDE_WAIT`]) until the watcher carried the
//! decision out (`done: true`; it stores that in the checkpoint right after); `false` means it is queued and
//! happens at the watcher's next turn (`GET /api/v1/held` shows it as `decision`).

use crate::control::api::{bad_request, Api};
use crate::control::auth::remote;
use crate::control::holds::{Decision, NotHeld};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Largest request body read (a collection name).
const MAX_BODY: usize = 64 * 1024;
/// How long a release or discard waits for the watcher before answering `done: false`.
pub const DECIDE_WAIT: Duration = Duration::from_secs(10);

pub async fn list(State(api): State<Api>) -> Json<Value> {
    Json(api.status.holds().to_json())
}

pub async fn release(State(api): State<Api>, req: Request) -> Response {
    decide(api, req, Decision::Release).await
}

pub async fn discard(State(api): State<Api>, req: Request) -> Response {
    decide(api, req, Decision::Discard).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    collection: String,
}

async fn decide(api: Api, req: Request, decision: Decision) -> Response {
    let who = remote(&req);
    let action = decision.as_str();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(message) => {
            tracing::warn!(remote = %who, action, result = "bad_request", "control request refused: {message}");
            return bad_request(message);
        }
    };
    let holds = api.status.holds();
    let coll = body.collection;
    if let Err(NotHeld(name)) = holds.request(&coll, decision) {
        tracing::warn!(remote = %who, action, collection = %name, result = "not_found", "control request refused: not held");
        let error = format!("\"{name}\" is not held (GET /api/v1/held lists what is)");
        return (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response();
    }
    let done = holds.wait_finished(&coll, DECIDE_WAIT).await;
    tracing::info!(remote = %who, action, collection = %coll, done, result = "ok", "control request");
    Json(json!({ "action": action, "collection": coll, "done": done })).into_response()
}

async fn read_body(req: Request) -> Result<Body, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the body must be {{\"collection\": \"<name>\"}}: {e}"))
}
