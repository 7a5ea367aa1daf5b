//! One run as stored and as `GET /api/v1/runs` shows it. Only names and counts: collection
//! names, error kinds, DDL descriptions (operation and collections), never a document value or
//! a connection string. Times are Unix milliseconds (the same in BSON and in the JSON file).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Phase changes, DDL entries and resyncs kept per run (the counts go on past it).
pub const MAX_ENTRIES: usize = 200;

/// One run of `mongo-replicator run`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Run {
    /// Unique per run (an ObjectId in hex: sorts by start time).
    pub id: String,
    /// `"<source_db>-><target_db>"`: several pairs may share a checkpoint database.
    pub pair: String,
    pub version: String,
    pub started_ms: i64,
    /// The last time this run wrote its record: where a killed run was last heard of.
    pub last_seen_ms: i64,
    /// `None` while running, and for a run that was killed (its exit is then `unknown`).
    pub ended_ms: Option<i64>,
    /// `None` while running.
    pub exit: Option<Exit>,
    #[serde(default)]
    pub phases: Vec<Entry>,
    #[serde(default)]
    pub copies: Vec<Copied>,
    #[serde(default)]
    pub resyncs: Vec<Resync>,
    #[serde(default)]
    pub ddl_applied: u64,
    #[serde(default)]
    pub ddl: Vec<Entry>,
    /// Error kind (the `errors_total{kind}` label) -> count.
    #[serde(default)]
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exit {
    /// `stopped` (asked to stop in-process), `signal` (SIGTERM/SIGINT), `error`, or `unknown`
    /// (no end was recorded: killed, power loss).
    pub reason: String,
    /// The error kind when `reason = "error"`.
    pub kind: Option<String>,
    /// The redacted error message, or the signal's name.
    pub message: Option<String>,
}

/// Something that happened at a time: a phase name, a DDL description.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub what: String,
    pub at_ms: i64,
}

/// Documents a copy (or a resync's copy) wrote into one collection during this run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Copied {
    pub collection: String,
    pub documents: u64,
}

/// A resync job of one collection, with its counts (`copied`, `deleted`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resync {
    pub collection: String,
    pub at_ms: i64,
    pub counts: Vec<(String, u64)>,
}

/// Pushes `item` unless `list` is full (the first entries of a run say most about it).
pub fn push_bounded<T>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_ENTRIES {
        list.push(item);
    }
}

fn time(ms: i64) -> Value {
    match bson::DateTime::from_millis(ms).try_to_rfc3339_string() {
        Ok(s) => Value::String(s),
        Err(_) => Value::from(ms),
    }
}

impl Run {
    /// `running` for the run in progress, `ended` once an exit is known.
    pub fn state(&self, current: bool) -> &'static str {
        match (&self.exit, current) {
            (None, true) => "running",
            (None, false) | (Some(_), _) => "ended",
        }
    }

    /// The API shape (`current`: this is the process's own run).
    pub fn to_json(&self, current: bool) -> Value {
        let entries = |list: &[Entry], key: &str| -> Vec<Value> {
            list.iter()
                .map(|e| json!({ key: e.what, "at": time(e.at_ms) }))
                .collect()
        };
        let exit = match (&self.exit, current) {
            (Some(e), _) => json!({ "reason": e.reason, "kind": e.kind, "message": e.message }),
            (None, true) => Value::Null,
            (None, false) => json!({ "reason": "unknown", "kind": null, "message": null }),
        };
        json!({
            "id": self.id,
            "state": self.state(current),
            "version": self.version,
            "started_at": time(self.started_ms),
            "ended_at": self.ended_ms.map(time),
            "last_seen_at": time(self.last_seen_ms),
            "exit": exit,
            "phases": entries(&self.phases, "phase"),
            "copies": self.copies.iter().map(|c| json!({"collection": c.collection, "documents": c.documents})).collect::<Vec<_>>(),
            "copied_documents": self.copies.iter().map(|c| c.documents).sum::<u64>(),
            "resyncs": self.resyncs.iter().map(|r| json!({
                "collection": r.collection,
                "at": time(r.at_ms),
                "counts": r.counts.iter().map(|(k, n)| (k.clone(), Value::from(*n))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "ddl_applied": self.ddl_applied,
            "ddl": entries(&self.ddl, "ddl"),
            "errors": self.errors,
            "errors_total": self.errors.values().sum::<u64>(),
        })
    }
}
