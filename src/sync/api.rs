//! The sync routes under `/api/v1` (behind the control token): `GET sync/status`, `POST
//! sync/now`, `GET conflicts?resolved=&collection=`, `POST conflicts/{id}/resolve`, `POST
//! conflicts/auto-resolve`. Document values appear only in the conflicts answers.

use super::engine::{Direction, Engine, Outcome, Side};
use super::resolve::{Refusal, Resolution};
use crate::control::api::{bad_request, Api};
use crate::control::auth::remote;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Largest request body read (a merged document).
const MAX_BODY: usize = 4 * 1024 * 1024;

fn engine(api: &Api) -> Result<Arc<Engine>, Box<Response>> {
    api.status.sync().engine().cloned().ok_or_else(|| {
        let body = json!({ "error": "no two-way sync is running here (mongo-replicator sync), or it has not connected yet" });
        Box::new((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response())
    })
}

fn failed(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": e.to_string() })),
    )
        .into_response()
}

pub async fn status(State(api): State<Api>) -> Response {
    let engine = match engine(&api) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let mut sides = serde_json::Map::new();
    for side in [Side::Local, Side::Remote] {
        let i = usize::from(side == Side::Remote);
        sides.insert(
            side.as_str().into(),
            json!({ "database": engine.db(side).name(), "online": engine.online[i].load(Ordering::Relaxed) }),
        );
    }
    let mut directions = serde_json::Map::new();
    for dir in Direction::ALL {
        let counts = &engine.counts[dir.index()];
        let mut d = serde_json::Map::new();
        for (i, o) in Outcome::ALL.iter().enumerate() {
            d.insert(
                o.as_str().into(),
                counts.by_outcome[i].load(Ordering::Relaxed).into(),
            );
        }
        let last = counts.last_applied_ms.load(Ordering::Relaxed);
        d.insert(
            "last_applied_at".into(),
            if last == 0 {
                Value::Null
            } else {
                bson::DateTime::from_millis(last)
                    .try_to_rfc3339_string()
                    .unwrap_or_default()
                    .into()
            },
        );
        directions.insert(dir.label().into(), Value::Object(d));
    }
    Json(json!({
        "sides": sides,
        "directions": directions,
        "conflicts_open": engine.metrics.open(),
        "last_pass": engine.last_pass.lock().clone(),
    }))
    .into_response()
}

pub async fn now(State(api): State<Api>, req: Request) -> Response {
    let engine = match engine(&api) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let who = remote(&req);
    match engine.reconcile().await {
        Ok(s) => {
            tracing::info!(remote = %who, action = "sync_now", result = "ok", "control request");
            Json(s.to_json()).into_response()
        }
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    resolved: Option<bool>,
    collection: Option<String>,
}

pub async fn list(State(api): State<Api>, Query(q): Query<ListQuery>) -> Response {
    let engine = match engine(&api) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    // Without `resolved`: every conflict; `resolved=false`: the open ones.
    let all = q.resolved != Some(false);
    match engine.conflicts.list(all, q.collection.as_deref()).await {
        Ok(list) => {
            let shown: Vec<Value> = list
                .iter()
                .filter(|c| q.resolved.is_none_or(|r| c.resolved == r))
                .map(|c| c.to_json())
                .collect();
            Json(json!({ "count": shown.len(), "conflicts": shown })).into_response()
        }
        Err(e) => failed(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    strategy: String,
    value: Option<Value>,
}

async fn body<T: for<'de> Deserialize<'de> + Default>(req: Request) -> Result<T, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| format!("cannot read the body: {e}"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("bad body: {e}"))
}

/// The resolution a body names; `value` as Extended JSON.
fn resolution(b: &ResolveBody) -> Result<Resolution, String> {
    let value = || -> Result<bson::Bson, String> {
        let v = b
            .value
            .clone()
            .ok_or(format!("{} needs a \"value\"", b.strategy))?;
        bson::Bson::try_from(v).map_err(|e| format!("\"value\" is not Extended JSON: {e}"))
    };
    match b.strategy.as_str() {
        "keep_local" => Ok(Resolution::KeepLocal),
        "keep_remote" => Ok(Resolution::KeepRemote),
        "merge" => match value()? {
            bson::Bson::Document(d) => Ok(Resolution::Merge(d)),
            _ => Err("merge needs a document as \"value\"".into()),
        },
        "rename_local" => Ok(Resolution::RenameLocal(value()?)),
        other => Err(format!(
            "strategy {other:?}: expected keep_local, keep_remote, merge or rename_local"
        )),
    }
}

pub async fn resolve(State(api): State<Api>, Path(id): Path<String>, req: Request) -> Response {
    let engine = match engine(&api) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let who = remote(&req);
    let how = match body::<ResolveBody>(req).await.and_then(|b| resolution(&b)) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    let Ok(oid) = bson::oid::ObjectId::parse_str(&id) else {
        return bad_request(format!("conflict id {id:?}: expected 24 hex digits"));
    };
    let name = how.name();
    match engine.resolve(oid, how).await {
        Ok(c) => {
            tracing::info!(remote = %who, action = "resolve", strategy = name, result = "ok", "control request");
            Json(json!({ "resolved": true, "conflict": c.to_json() })).into_response()
        }
        Err(Refusal::NotFound) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no conflict with that id" })),
        )
            .into_response(),
        Err(Refusal::Resolved) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": "the conflict is already resolved" })),
        )
            .into_response(),
        Err(Refusal::Invalid(m)) => bad_request(m),
        Err(Refusal::Failed(e)) => failed(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoBody {
    max: Option<usize>,
}

pub async fn auto_resolve(State(api): State<Api>, req: Request) -> Response {
    let engine = match engine(&api) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let max = match body::<AutoBody>(req).await {
        Ok(b) => b.max.unwrap_or(usize::MAX),
        Err(m) => return bad_request(m),
    };
    match engine.auto_resolve(max).await {
        Ok((resolved, skipped)) => {
            Json(json!({ "resolved": resolved, "skipped": skipped })).into_response()
        }
        Err(e) => failed(e),
    }
}
