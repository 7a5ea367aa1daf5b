//! `GET /api/v1/failed`, `POST /api/v1/failed/retry` and `POST /api/v1/failed/skip`: the
//! documents the backup refused for good ([`crate::control::parked`]). A retry only makes the
//! selected documents due: the writer of each one's partition re-reads it from the source and
//! writes it within a second or so; the listing shows when it healed.

use crate::control::api::{bad_request, Api};
use crate::control::auth::remote;
use crate::control::parked::Selector;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::time::Instant;

/// Largest request body read (an `_id` is at most a few KiB).
const MAX_BODY: usize = 64 * 1024;

pub async fn list(State(api): State<Api>) -> Json<Value> {
    Json(api.status.parked().lock().to_json())
}

pub async fn retry(State(api): State<Api>, req: Request) -> Response {
    act(api, req, "retry").await
}

pub async fn skip(State(api): State<Api>, req: Request) -> Response {
    act(api, req, "skip").await
}

async fn act(api: Api, req: Request, action: &'static str) -> Response {
    let who = remote(&req);
    let which = match read_selector(req).await {
        Ok(s) => s,
        Err(message) => {
            tracing::warn!(remote = %who, action, result = "bad_request", "control request refused: {message}");
            return bad_request(message);
        }
    };
    let (n, left) = {
        let mut parked = api.status.parked().lock();
        let n = match action {
            "retry" => parked.request_retry(&which, Instant::now()),
            _ => parked.skip(&which),
        };
        (n, parked.len())
    };
    api.metrics.set_parked_documents(left);
    if action == "retry" && n > 0 {
        (api.status.bus()).emit("document_retried", json!({ "documents": n }));
    }
    if n == 0 && which != Selector::All {
        tracing::warn!(remote = %who, action, result = "not_found", "control request refused: no such parked document");
        let body = json!({ "error": "no parked document matches (GET /api/v1/failed lists them)" });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    tracing::info!(remote = %who, action, documents = n, result = "ok", "control request");
    Json(json!({ "action": action, "documents": n, "parked": left })).into_response()
}

async fn read_selector(req: Request) -> Result<Selector, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{USAGE}: {e}"))?;
    selector(&body)
}

const USAGE: &str = r#"the body must be {"collection": "<name>", "id": <_id as canonical Extended JSON>} or {"all": true}"#;

/// The selector of a request body.
pub fn selector(body: &Value) -> Result<Selector, String> {
    let Some(obj) = body.as_object() else {
        return Err(USAGE.into());
    };
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "collection" | "id" | "all"))
    {
        return Err(USAGE.into());
    }
    match (obj.get("all"), obj.get("collection"), obj.get("id")) {
        (Some(Value::Bool(true)), None, None) => Ok(Selector::All),
        (None, Some(Value::String(c)), Some(id)) => {
            let id = bson::Bson::try_from(id.clone())
                .map_err(|e| format!("id is not Extended JSON: {e}"))?;
            Ok(Selector::One {
                collection: c.clone(),
                id,
            })
        }
        _ => Err(USAGE.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::Bson;

    #[test]
    fn bodies_select_all_or_one_id_in_extended_json_and_anything_else_is_refused() {
        assert_eq!(selector(&json!({"all": true})), Ok(Selector::All));
        assert_eq!(
            selector(&json!({"collection": "users", "id": {"$numberLong": "7"}})),
            Ok(Selector::One {
                collection: "users".into(),
                id: Bson::Int64(7)
            })
        );
        for bad in [
            json!({}),
            json!({"all": false}),
            json!({"all": true, "collection": "users"}),
            json!({"collection": "users"}),
            json!({"collection": "users", "id": 1, "extra": 1}),
            json!([1]),
        ] {
            assert!(selector(&bad).is_err(), "{bad}");
        }
    }
}
