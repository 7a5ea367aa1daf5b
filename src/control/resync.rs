//! `POST /api/v1/resync` and `GET /api/v1/jobs/{id}`: repair one collection, or some of its
//! documents, on the backup from the source while the tail runs ([`crate::control::resync_job`]
//! does it; [`crate::control::jobs`] keeps the jobs, in memory).

use crate::control::api::Api;
use crate::control::auth::remote;
use crate::control::jobs::{Busy, Spec};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bson::Bson;
use serde_json::{json, Value};

/// Largest request body read (10 000 `_id`s of a few dozen bytes).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// `_id`s one job may list.
pub const MAX_IDS: usize = 10_000;

const USAGE: &str = r#"the body must be {"collection": "<name>"} or {"collection": "<name>", "ids": [<_id as canonical Extended JSON, or a plain string>, ...]}"#;

pub async fn submit(State(api): State<Api>, req: Request) -> Response {
    let who = remote(&req);
    let refuse = |code: StatusCode, message: String| {
        tracing::warn!(remote = %who, action = "resync", result = "bad_request", "control request refused: {message}");
        (code, Json(json!({ "error": message }))).into_response()
    };
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        }
    };
    let spec = match serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("{USAGE}: {e}"))
        .and_then(|v| spec(&v))
    {
        Ok(s) => s,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let known = api.status.pauses().known();
    if !known.contains(&spec.collection) {
        let message = format!(
            "unknown collection \"{}\": not among the replicated collections {known:?}",
            spec.collection
        );
        return refuse(StatusCode::NOT_FOUND, message);
    }
    let (collection, ids) = (spec.collection.clone(), spec.ids.as_ref().map(Vec::len));
    match api.status.jobs().submit(spec) {
        Ok(job) => {
            tracing::info!(remote = %who, action = "resync", collection = %collection, ids, job = %job, result = "ok", "control request");
            (api.status.bus()).emit(
                "resync_started",
                json!({ "collection": collection, "documents": ids }),
            );
            (StatusCode::ACCEPTED, Json(json!({ "job": job }))).into_response()
        }
        Err(Busy) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} resync jobs are already queued or running; wait for one to finish",
                crate::control::jobs::MAX_ACTIVE
            ),
        ),
    }
}

pub async fn show(State(api): State<Api>, Path(id): Path<String>) -> Response {
    match api.status.jobs().to_json(&id) {
        Some(v) => Json(v).into_response(),
        None => {
            let body = json!({ "error": format!("no job \"{id}\" (jobs are kept in memory: the {} most recent of this process)", crate::control::jobs::MAX_JOBS) });
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}

/// The job a request body asks for. `_id`s: canonical (or relaxed) Extended JSON, a JSON string
/// is a string `_id`; an array, a regular expression or `undefined` cannot be an `_id`.
pub fn spec(body: &Value) -> Result<Spec, String> {
    let Some(obj) = body.as_object() else {
        return Err(USAGE.into());
    };
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "collection" | "ids"))
    {
        return Err(USAGE.into());
    }
    let Some(Value::String(collection)) = obj.get("collection") else {
        return Err(USAGE.into());
    };
    let ids = match obj.get("ids") {
        None => None,
        Some(Value::Array(list)) => Some(ids(list)?),
        Some(_) => return Err(format!("ids must be an array: {USAGE}")),
    };
    Ok(Spec {
        collection: collection.clone(),
        ids,
    })
}

fn ids(list: &[Value]) -> Result<Vec<Bson>, String> {
    if list.is_empty() {
        return Err(
            "ids is empty: list at least one _id, or leave ids out to repair the whole collection"
                .into(),
        );
    }
    if list.len() > MAX_IDS {
        return Err(format!(
            "ids lists {} _ids; at most {MAX_IDS} per job (or leave ids out to repair the whole collection)",
            list.len()
        ));
    }
    let mut out: Vec<Bson> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let id =
            Bson::try_from(v.clone()).map_err(|e| format!("ids[{i}] is not Extended JSON: {e}"))?;
        if matches!(
            id,
            Bson::Array(_) | Bson::RegularExpression(_) | Bson::Undefined
        ) {
            return Err(format!(
                "ids[{i}] cannot be an _id (arrays, regular expressions and undefined are not)"
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn a_collection_or_ids_in_extended_json_or_plain_strings() {
        assert_eq!(
            spec(&json!({"collection": "orders"})),
            Ok(Spec {
                collection: "orders".into(),
                ids: None
            })
        );
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let s = spec(&json!({"collection": "orders", "ids": [
            {"$numberLong": "7"}, {"$numberInt": "7"}, "abc", {"$oid": oid.to_hex()},
            {"a": 1}, {"$numberLong": "7"}
        ]}))
        .unwrap();
        assert_eq!(
            s.ids.unwrap(),
            vec![
                Bson::Int64(7),
                Bson::Int32(7),
                Bson::String("abc".into()),
                Bson::ObjectId(oid),
                Bson::Document(bson::doc! {"a": 1}),
            ],
            "types kept apart, duplicates dropped"
        );
    }

    #[test]
    fn anything_else_is_refused_naming_what_is_wrong() {
        for (bad, says) in [
            (json!([]), "the body must be"),
            (json!({}), "the body must be"),
            (json!({"collection": 1}), "the body must be"),
            (json!({"collection": "o", "id": 1}), "the body must be"),
            (json!({"collection": "o", "ids": 1}), "ids must be an array"),
            (json!({"collection": "o", "ids": []}), "ids is empty"),
            (
                json!({"collection": "o", "ids": [[1]]}),
                "ids[0] cannot be an _id",
            ),
            (
                json!({"collection": "o", "ids": [1, {"$oid": "zz"}]}),
                "ids[1] is not Extended JSON",
            ),
            (
                json!({"collection": "o", "ids": [{"$regularExpression": {"pattern": "a", "options": ""}}]}),
                "ids[0] cannot",
            ),
        ] {
            let e = spec(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let many: Vec<Value> = (0..=MAX_IDS as i64).map(Value::from).collect();
        assert!(spec(&json!({"collection": "o", "ids": many}))
            .unwrap_err()
            .contains("at most"));
    }
}
