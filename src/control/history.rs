//! `GET /api/v1/history?collection=&id=&since=&until=&op=&limit=`: one document's versions on
//! the backup, newest first ([`crate::history::audit`]). 409 while no tail with history on runs.

use crate::control::api::{bad_request, Api};
use crate::history::at::At;
use crate::history::audit::{self, Query as Trail, DEFAULT_LIMIT, MAX_LIMIT};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;

const PARAMS: [&str; 6] = ["collection", "id", "since", "until", "op", "limit"];

pub async fn versions(
    State(api): State<Api>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let q = match parse(&query) {
        Ok(q) => q,
        Err(message) => return bad_request(message),
    };
    let Some(source) = api.status.changes().lock().clone() else {
        let error = "no change history: history.enabled = false, or the tail has not started";
        return (StatusCode::CONFLICT, Json(json!({ "error": error }))).into_response();
    };
    match audit::versions(&source, &q).await {
        Ok(v)
            if v["versions"].as_array().is_some_and(Vec::is_empty)
                && !known(&source, &q.coll).await =>
        {
            let error = format!(
                "no collection \"{}\" is replicated or on the backup: name one the source selection or a [[namespaces]] rule selects (with several source databases, as \"db.coll\")",
                q.coll
            );
            (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response()
        }
        Ok(v) => Json(v).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// `key` names a collection the configuration replicates and the backup holds (asked only
/// when it has no history: a collection no longer selected or dropped may still have some).
/// When the backup cannot be asked, the key counts as known (the empty trail stands).
async fn known(source: &audit::Source, key: &str) -> bool {
    let scope = source.backup.scope();
    if scope.key(&scope.source_of(key)).as_deref() != Some(key) {
        return false;
    }
    let (db, coll) = source.backup.locate(key);
    db.list_collection_names()
        .filter(bson::doc! {"name": coll})
        .await
        .map_or(true, |names| !names.is_empty())
}

fn parse(query: &HashMap<String, String>) -> Result<Trail, String> {
    if let Some(unknown) = query.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(format!(
            "unknown query parameter \"{unknown}\" (collection, id, since, until, op, limit)"
        ));
    }
    let coll = query.get("collection").ok_or("collection is required")?;
    let id = query.get("id").ok_or("id is required")?;
    let id = crate::cmd::restore::parse_id(id)?;
    let at = |name: &str| {
        query
            .get(name)
            .map(|t| At::parse(t).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(format!("limit must be a number between 1 and {MAX_LIMIT}")),
    };
    Ok(Trail {
        coll: coll.clone(),
        id,
        since: at("since")?,
        until: at("until")?,
        op: query.get("op").cloned(),
        limit,
    })
}
