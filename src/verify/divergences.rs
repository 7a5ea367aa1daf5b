//! What the continuous verifier found, for `GET /api/v1/divergences` and `/status`: the newest
//! divergences (bounded: the oldest fall off, counted), and the sweeps' progress. Entries name
//! the collection, the `_id` as canonical Extended JSON, the kind and what became of it; never
//! a field value.

use crate::control::api::{bad_request, Api};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};

/// Divergences kept for the route, at most.
pub const MAX_KEPT: usize = 1000;

/// What became of a divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rewritten from the source (or the index rebuilt).
    Repaired,
    /// Reported only (`repair = false`, or an option / index difference without `repair_ddl`).
    Reported,
    /// A parked or skipped document: a known difference, never repaired around.
    Known,
    /// The repair failed (the next sweep finds it again).
    Failed,
}

/// One divergence.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    pub collection: String,
    /// Canonical Extended JSON of the `_id`; `None` for options and indexes.
    #[serde(rename = "_id")]
    pub id: Option<Value>,
    pub kind: &'static str,
    /// `sweep` or `recent`.
    pub found: &'static str,
    pub outcome: Outcome,
    pub repaired: bool,
    pub at: String,
}

#[derive(Debug, Default)]
struct Inner {
    kept: VecDeque<Divergence>,
    total: u64,
    sweep: u64,
    sweep_collection: Option<String>,
    progress: f64,
    last_full_sweep: Option<String>,
}

/// Shared between the verifier and the routes.
#[derive(Debug, Default)]
pub struct Divergences(Mutex<Inner>);

impl Divergences {
    pub fn record(&self, d: Divergence) {
        let mut inner = self.0.lock();
        if inner.kept.len() >= MAX_KEPT {
            inner.kept.pop_front();
        }
        inner.total += 1;
        inner.kept.push_back(d);
    }

    /// The sweep in progress: its number, the collection walked and the share done.
    pub fn set_sweep(&self, sweep: u64, collection: Option<&str>, progress: f64) {
        let mut inner = self.0.lock();
        inner.sweep = sweep;
        inner.sweep_collection = collection.map(str::to_string);
        inner.progress = progress;
    }

    pub fn set_last_full_sweep(&self, at: Option<String>) {
        self.0.lock().last_full_sweep = at;
    }

    /// `/status`'s `verify` block.
    pub fn summary(&self) -> Value {
        let inner = self.0.lock();
        json!({
            "sweep": inner.sweep,
            "collection": inner.sweep_collection,
            "progress": inner.progress,
            "last_full_sweep": inner.last_full_sweep,
            "divergences": inner.total,
        })
    }

    /// Newest first, at most `limit`, of `kind` when given.
    pub fn to_json(&self, limit: usize, kind: Option<&str>) -> Value {
        let inner = self.0.lock();
        let list: Vec<&Divergence> = inner
            .kept
            .iter()
            .rev()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .take(limit)
            .collect();
        json!({ "divergences": list, "total": inner.total, "kept": inner.kept.len() })
    }
}

/// `GET /api/v1/divergences?kind=&limit=`.
pub async fn list(
    State(api): State<Api>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(unknown) = query
        .keys()
        .find(|k| !["kind", "limit"].contains(&k.as_str()))
    {
        return bad_request(format!(
            "unknown query parameter \"{unknown}\" (kind, limit)"
        ));
    }
    let kind = query.get("kind").map(String::as_str);
    if let Some(k) = kind.filter(|k| !super::metrics::KINDS.contains(k)) {
        return bad_request(format!(
            "kind \"{k}\" is not one of {:?}",
            super::metrics::KINDS
        ));
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_KEPT).contains(&n) => n,
        Some(_) => return bad_request(format!("limit must be a number between 1 and {MAX_KEPT}")),
    };
    Json(api.status.divergences().to_json(limit, kind)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(kind: &'static str, n: i32) -> Divergence {
        Divergence {
            collection: "c".into(),
            id: Some(json!({"$numberInt": n.to_string()})),
            kind,
            found: "sweep",
            outcome: Outcome::Repaired,
            repaired: true,
            at: "now".into(),
        }
    }

    #[test]
    fn keeps_the_newest_and_filters_by_kind() {
        let list = Divergences::default();
        for n in 0..(MAX_KEPT as i32 + 5) {
            list.record(d(if n % 2 == 0 { "missing" } else { "extra" }, n));
        }
        let all = list.to_json(10, None);
        assert_eq!(all["total"], MAX_KEPT as u64 + 5);
        assert_eq!(all["kept"], MAX_KEPT);
        let newest = &all["divergences"][0];
        assert_eq!(newest["_id"]["$numberInt"], (MAX_KEPT + 4).to_string());
        assert_eq!(newest["outcome"], "repaired");
        let extra = list.to_json(1000, Some("extra"));
        let extra = extra["divergences"].as_array().unwrap();
        assert!(extra.iter().all(|e| e["kind"] == "extra"));
        assert_eq!(extra.len(), MAX_KEPT / 2);
    }
}
