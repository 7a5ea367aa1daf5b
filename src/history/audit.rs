//! The audit trail of one document: its versions on the backup, newest first, each with the
//! change that made it (`GET /api/v1/history`, `mongo-replicator history`). A version is the
//! `before` of the next newer change, or the backup's current document for the newest. Values
//! appear only here, for the document a user asked for through an authenticated route.

use super::at::{cluster_text, At};
use super::changes::Changes;
use crate::error::{Error, Origin, Result};
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use serde_json::{json, Value};
use std::sync::Arc;

/// `limit` default and bound.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// What the audit trail reads: the history and the backup it describes.
#[derive(Clone)]
pub struct Source {
    pub changes: Arc<Changes>,
    pub backup: crate::source::Endpoint,
}

/// One document's trail, filtered.
#[derive(Debug, Clone)]
pub struct Query {
    pub coll: String,
    pub id: Bson,
    pub since: Option<At>,
    pub until: Option<At>,
    pub op: Option<String>,
    pub limit: usize,
}

/// The versions matching `q`, newest first, as JSON (`_id`s and documents as canonical
/// Extended JSON).
pub async fn versions(src: &Source, q: &Query) -> Result<Value> {
    let err = |e: &mongodb::error::Error| {
        Error::from_driver(Origin::Target, "reading the change history", e)
    };
    let mut filter = doc! {"coll": &q.coll, "id": q.id.clone()};
    if let Some(since) = q.since {
        filter.extend(since.filter(true));
    }
    let mut cursor = src
        .changes
        .entries()
        .find(filter)
        .sort(doc! {"t": -1, "_id.n": -1})
        .await
        .map_err(|e| err(&e))?;
    let mut current = src
        .backup
        .collection::<Document>(&q.coll)
        .find_one(doc! {"_id": q.id.clone()})
        .await
        .map_err(|e| err(&e))?
        .map_or(Bson::Null, Bson::Document);
    let mut out = Vec::new();
    while let Some(e) = cursor.try_next().await.map_err(|e| err(&e))? {
        let before = e.get("before").cloned().unwrap_or(Bson::Null);
        let after = std::mem::replace(&mut current, before.clone());
        let t = e.get_timestamp("t").ok();
        let wall = e.get_datetime("wall").ok().copied();
        let in_range = match (q.until, t) {
            (Some(until), Some(t)) => until.after(t, wall) || same(until, t, wall),
            _ => true,
        };
        let op = e.get_str("op").unwrap_or_default();
        if !in_range || q.op.as_deref().is_some_and(|o| o != op) {
            continue;
        }
        out.push(json!({
            "cluster_time": t.map(cluster_text),
            "wall_time": wall.and_then(|w| w.try_to_rfc3339_string().ok()),
            "op": op,
            "updated": names(&e, "updated"),
            "removed": names(&e, "removed"),
            "truncated": names(&e, "truncated"),
            "document": after.into_canonical_extjson(),
            "before": before.into_canonical_extjson(),
            "before_known": e.get_bool("before_known").unwrap_or(true),
        }));
        if out.len() >= q.limit {
            break;
        }
    }
    Ok(json!({
        "collection": q.coll,
        "id": q.id.clone().into_canonical_extjson(),
        "versions": out,
    }))
}

/// `until` names exactly this change's time.
fn same(until: At, t: bson::Timestamp, wall: Option<bson::DateTime>) -> bool {
    match until {
        At::Cluster(c) => c == t,
        At::Wall(w) => Some(w) == wall,
    }
}

fn names(e: &Document, field: &str) -> Vec<String> {
    e.get_array(field)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
