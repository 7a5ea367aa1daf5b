//! `GET /api/v1/runs?limit=N`: the run history ([`crate::history`]), newest first, this run
//! included (default [`DEFAULT_LIMIT`], at most [`MAX_LOADED`]).

use crate::control::api::{bad_request, Api};
use crate::history::runs::{DEFAULT_LIMIT, MAX_LOADED};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;

pub async fn list(
    State(api): State<Api>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "limit") {
        return bad_request(format!(
            "unknown query parameter \"{unknown}\" (only limit)"
        ));
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LOADED).contains(&n) => n,
        Some(_) => {
            return bad_request(format!("limit must be a number between 1 and {MAX_LOADED}"))
        }
    };
    let retention = api.config["history"]["runs_retention"]
        .as_str()
        .unwrap_or(crate::config::defaults::HISTORY_RUNS_RETENTION)
        .to_string();
    Json(api.status.runs().to_json(limit, &retention)).into_response()
}
