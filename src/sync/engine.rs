//! What every part of two-way sync shares: both databases, the agreed state, the conflicts,
//! the lock that makes each decision-and-write atomic against the other direction (and
//! against resolutions and reconciliation), counters per direction, and the side I/O.

use super::conflicts::{Conflict, ConflictStore};
use super::metrics::SyncMetrics;
use super::state::StateStore;
use super::version::id_key;
use crate::config::ConflictsConfig;
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::ops::Reporter;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::Database;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// One side of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Local => "local",
            Side::Remote => "remote",
        }
    }
    pub fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// A direction: changes of `source` written to the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    pub source: Side,
}

impl Direction {
    pub const ALL: [Direction; 2] = [
        Direction {
            source: Side::Local,
        },
        Direction {
            source: Side::Remote,
        },
    ];
    pub fn target(self) -> Side {
        self.source.other()
    }
    pub fn label(self) -> &'static str {
        match self.source {
            Side::Local => "local_to_remote",
            Side::Remote => "remote_to_local",
        }
    }
    pub fn index(self) -> usize {
        usize::from(self.source == Side::Remote)
    }
}

/// What happened to the events of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Echo,
    Agreed,
    Conflict,
    Blocked,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Applied,
        Outcome::Echo,
        Outcome::Agreed,
        Outcome::Conflict,
        Outcome::Blocked,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Echo => "echo",
            Outcome::Agreed => "agreed",
            Outcome::Conflict => "conflict",
            Outcome::Blocked => "blocked",
        }
    }
}

/// Counters of one direction (`GET sync/status`).
#[derive(Default)]
pub struct Counts {
    pub by_outcome: [AtomicU64; 5],
    /// Unix ms of the last document written this way.
    pub last_applied_ms: AtomicI64,
}

pub struct Engine {
    pub local: Database,
    pub remote: Database,
    pub state: StateStore,
    pub conflicts: ConflictStore,
    pub policy: ConflictsConfig,
    /// Held across one batch's decision and write (both directions, resolutions, passes).
    pub lock: Arc<tokio::sync::Mutex<()>>,
    /// `(collection, id key)` of documents open conflicts block.
    pub open: parking_lot::Mutex<HashSet<(String, String)>>,
    pub counts: [Counts; 2],
    pub online: [AtomicBool; 2],
    pub metrics: SyncMetrics,
    pub reporter: Reporter,
    /// Wakes the auto-resolver (a conflict was found under a non-manual strategy).
    pub auto: tokio::sync::Notify,
    /// `local.collections` (the same names on both sides), all when `None`.
    pub collections: Option<Vec<String>>,
    /// The last reconciliation pass's summary.
    pub last_pass: parking_lot::Mutex<Option<serde_json::Value>>,
}

fn origin(side: Side) -> Origin {
    match side {
        Side::Local => Origin::Source,
        Side::Remote => Origin::Target,
    }
}

impl Engine {
    pub fn db(&self, side: Side) -> &Database {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }

    pub fn count(&self, dir: Direction, outcome: Outcome, n: u64) {
        if n == 0 {
            return;
        }
        let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.counts[dir.index()].by_outcome[i].fetch_add(n, Ordering::Relaxed);
        self.metrics.event(dir, outcome, n);
        if outcome == Outcome::Applied {
            self.counts[dir.index()]
                .last_applied_ms
                .store(bson::DateTime::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    /// The current documents of `ids` on `side` (one `$in` query), by [`id_key`].
    pub async fn read_many(
        &self,
        side: Side,
        coll: &str,
        ids: &[Bson],
    ) -> Result<HashMap<String, RawDocumentBuf>> {
        let ids = ids.to_vec();
        self.reporter
            .retry("reading documents for sync", || {
                let ids = ids.clone();
                async move {
                    let c = self.db(side).collection::<RawDocumentBuf>(coll);
                    let e = |e: mongodb::error::Error| {
                        Error::from_driver(origin(side), "reading documents", &e)
                    };
                    let mut cursor = c.find(doc! { "_id": { "$in": ids } }).await.map_err(e)?;
                    let mut out = HashMap::new();
                    while let Some(d) = cursor.try_next().await.map_err(e)? {
                        if let Ok(id) = d.get("_id") {
                            if let Some(id) = id.and_then(|v| v.to_raw_bson().try_into().ok()) {
                                out.insert(id_key(&id), d);
                            }
                        }
                    }
                    Ok(out)
                }
            })
            .await
    }

    /// Makes `side` hold `doc` under `id` (`None`: deleted). A unique-index refusal comes
    /// back as [`ErrorKind::DuplicateKey`], not retried.
    pub async fn write(
        &self,
        side: Side,
        coll: &str,
        id: &Bson,
        doc: Option<&RawDocumentBuf>,
    ) -> Result<()> {
        self.reporter
            .retry("writing a document for sync", || async move {
                let c = self.db(side).collection::<RawDocumentBuf>(coll);
                let e = |e: mongodb::error::Error| {
                    Error::from_driver(origin(side), "writing a document", &e)
                };
                match doc {
                    Some(d) => {
                        c.replace_one(doc! { "_id": id.clone() }, d)
                            .upsert(true)
                            .await
                            .map_err(e)?;
                    }
                    None => {
                        c.delete_one(doc! { "_id": id.clone() }).await.map_err(e)?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// The document on `side` that `doc` clashes with on a unique index: the index's field
    /// and the other document.
    pub async fn unique_clash(
        &self,
        side: Side,
        coll: &str,
        doc: &Document,
    ) -> Result<Option<(String, Document)>> {
        let db = self.db(side);
        let e = |e: mongodb::error::Error| Error::from_driver(origin(side), "reading indexes", &e);
        let indexes: Vec<mongodb::IndexModel> = db
            .collection::<Document>(coll)
            .list_indexes()
            .await
            .map_err(e)?
            .try_collect()
            .await
            .map_err(e)?;
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        for index in indexes {
            let unique = index
                .options
                .as_ref()
                .and_then(|o| o.unique)
                .unwrap_or(false);
            let fields: Vec<String> = index.keys.keys().cloned().collect();
            if !unique || fields.iter().any(|f| f == "_id") {
                continue;
            }
            let mut filter = doc! { "_id": { "$ne": id.clone() } };
            for f in &fields {
                filter.insert(f.clone(), doc.get(f).cloned().unwrap_or(Bson::Null));
            }
            if let Some(other) = db
                .collection::<Document>(coll)
                .find_one(filter)
                .await
                .map_err(e)?
            {
                return Ok(Some((fields.join(","), other)));
            }
        }
        Ok(None)
    }

    /// Stores a conflict (or refreshes the open one on the same documents), blocks its
    /// documents, counts it and tells the bus (names and counts only).
    pub async fn record_conflict(&self, c: Conflict) -> Result<()> {
        let is_new = self
            .reporter
            .retry("recording a conflict", || self.conflicts.record(&c))
            .await?;
        {
            let mut open = self.open.lock();
            open.extend(c.blocked());
        }
        if is_new {
            self.metrics.open_changed(1);
            tracing::warn!(collection = %c.collection, kind = ?c.kind, "sync conflict detected (GET /api/v1/conflicts)");
            self.reporter.status.bus().emit(
                "conflict_detected",
                serde_json::json!({ "collection": c.collection, "kind": c.kind, "open": self.metrics.open() }),
            );
        }
        if self.policy.strategy_of(&c.collection) != crate::config::Strategy::Manual {
            self.auto.notify_one();
        }
        Ok(())
    }

    pub fn is_blocked(&self, coll: &str, key: &str) -> bool {
        self.open
            .lock()
            .contains(&(coll.to_string(), key.to_string()))
    }

    /// Whether `e` is a unique-index refusal.
    pub fn is_duplicate(e: &Error) -> bool {
        e.kind == ErrorKind::DuplicateKey
    }
}
