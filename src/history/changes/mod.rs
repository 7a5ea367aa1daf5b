//! The change history (`[history] enabled`): one entry per change applied to the backup, in the
//! collection `history` of `history.database` (default `checkpoint.database`) on the target,
//! for the audit trail ([`crate::history::audit`]) and point-in-time restore
//! ([`crate::history::restore`]).
//!
//! A batch's entries are written before the batch itself, with deterministic `_id`s (cluster
//! time, collection, `_id`, ordinal) inserted unordered with duplicates ignored: a batch replayed
//! after a crash finds its entries there and keeps the first `before` (read while the backup
//! still held it). So the backup never holds a change its history lacks. The window document
//! (`history_window`) says since when the history is complete and up to where the backup applied.

mod delta;
pub mod dropped;
mod entry;
pub mod prune;
pub mod window;

pub use entry::{entries, key_of, to_read, Ahead, Batched, Recorded};

use crate::apply::check_write_reply;
use crate::config::Config;
use crate::error::{Error, Origin, Result};
use crate::source::Endpoint;
use crate::tail::router::Item;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::{Collection, Database, IndexModel};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The entries' collection.
pub const COLLECTION: &str = "history";
/// Duplicate key: an entry a replayed batch already wrote.
const DUPLICATE_KEY: i32 = 11000;

/// The history of one backup database.
pub struct Changes {
    pub db: Database,
    pub retention: Duration,
    /// The window's start is written once per process, with the first batch.
    started: AtomicBool,
    /// Keys the backup is ahead of their recorded chain (see [`Ahead`]); writers own disjoint keys.
    ahead: parking_lot::Mutex<Ahead>,
    /// Cluster times of DDL events by sequence number, until applied ([`dropped`]).
    ddl_times:
        parking_lot::Mutex<std::collections::BTreeMap<u64, crate::source::translate::ClusterTime>>,
    /// The newest DDL applied: the window's end covers it too.
    last_ddl: parking_lot::Mutex<Option<bson::Timestamp>>,
}

/// [`Ahead`] keys kept at most; past it a covered change's `before` is recorded as unknown.
const MAX_AHEAD: usize = 10_000;

/// `history.database`, else `checkpoint.database`.
pub fn database_name(cfg: &Config) -> String {
    cfg.history
        .database
        .clone()
        .unwrap_or_else(|| cfg.checkpoint.database.clone())
}

/// A writer batch's items and the ones a re-read covered, in stream order.
pub fn in_stream_order<'a>(items: &'a [Item], covered: &'a [Item]) -> Vec<Batched<'a>> {
    let written = items.iter().map(|item| Batched {
        item,
        covered: false,
    });
    let skipped = covered.iter().map(|item| Batched {
        item,
        covered: true,
    });
    let mut all: Vec<Batched> = written.chain(skipped).collect();
    if !covered.is_empty() {
        all.sort_by_key(|b| b.item.seq);
    }
    all
}

/// The `fullDocumentBeforeChange` of a raw change event, when it carries one.
pub fn pre_image(event: &bson::RawDocument) -> Option<RawDocumentBuf> {
    event
        .get_document("fullDocumentBeforeChange")
        .ok()
        .map(ToOwned::to_owned)
}

/// The tail's history (`None` with history off, whose window is then forgotten: the changes
/// it applies have no entries); registered for the audit trail.
pub async fn attach(
    cfg: &Config,
    backup: &Endpoint,
    reporter: &crate::ops::Reporter,
) -> Result<Option<std::sync::Arc<Changes>>> {
    let Some(changes) = Changes::open(cfg, backup.client()) else {
        let db = backup.client().database(&database_name(cfg));
        if let Err(e) = window::forget(&db).await {
            tracing::warn!(error = %e, "could not close the change history's window");
        }
        return Ok(None);
    };
    reporter
        .retry("preparing the change history", || changes.prepare())
        .await?;
    let changes = std::sync::Arc::new(changes);
    *reporter.status.changes().lock() = Some(crate::history::audit::Source {
        changes: changes.clone(),
        backup: backup.clone(),
    });
    Ok(Some(changes))
}

impl Changes {
    /// The history on `target` when `[history] enabled`.
    pub fn open(cfg: &Config, target: &mongodb::Client) -> Option<Changes> {
        cfg.history.enabled.then(|| Changes {
            db: target.database(&database_name(cfg)),
            retention: cfg.history.retention(),
            started: AtomicBool::new(false),
            ahead: Default::default(),
            ddl_times: Default::default(),
            last_ddl: Default::default(),
        })
    }

    pub fn entries(&self) -> Collection<Document> {
        self.db.collection(COLLECTION)
    }

    /// The indexes the audit trail, the restore and the pruning read by.
    pub async fn prepare(&self) -> Result<()> {
        let models = [
            doc! {"coll": 1, "id": 1, "t": -1},
            doc! {"t": 1},
            doc! {"wall": 1},
        ]
        .map(|keys| IndexModel::builder().keys(keys).build());
        self.entries()
            .create_indexes(models)
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "creating the history indexes", &e))?;
        Ok(())
    }

    /// Writes the entries of `items` (a writer batch about to be applied to `backup`): one
    /// `_id $in` read of the backup per collection, then one unordered insert.
    pub async fn record(&self, backup: &Endpoint, items: &[Batched<'_>]) -> Result<()> {
        let mut current = HashMap::new();
        let reads = to_read(items, &self.ahead.lock());
        for (coll, ids) in reads {
            let filter = doc! {"_id": {"$in": ids}};
            let docs: Vec<Document> = backup
                .collection::<Document>(&coll)
                .find(filter)
                .await
                .map_err(|e| read_error(&coll, &e))?
                .try_collect()
                .await
                .map_err(|e| read_error(&coll, &e))?;
            for d in docs {
                if let Some(id) = d.get("_id") {
                    current.insert(key_of(&coll, id), d.clone());
                }
            }
        }
        let recorded = entries(items, &current, &self.ahead.lock());
        if !self.started.swap(true, Ordering::Relaxed) {
            if let Some(first) = recorded.entries.first() {
                window::start(&self.db, first).await?;
            }
        }
        self.insert(recorded.entries).await?;
        let mut ahead = self.ahead.lock();
        for (key, keep) in recorded.ahead {
            match keep {
                Some(v) if ahead.len() < MAX_AHEAD || ahead.contains_key(&key) => {
                    ahead.insert(key, v);
                }
                _ => {
                    ahead.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Inserts `entries` unordered; entries already there (a replay) are kept as they are.
    pub async fn insert(&self, entries: Vec<Document>) -> Result<()> {
        for chunk in chunks(entries) {
            let cmd = crate::apply::with_write_concern(
                &self.db,
                doc! {"insert": COLLECTION, "documents": chunk, "ordered": false},
            );
            let mut reply =
                self.db.run_command(cmd).await.map_err(|e| {
                    Error::from_driver(Origin::Target, "writing history entries", &e)
                })?;
            if let Ok(errors) = reply.get_array_mut("writeErrors") {
                errors.retain(|e| match e {
                    Bson::Document(d) => d.get_i32("code").ok() != Some(DUPLICATE_KEY),
                    _ => true,
                });
                if errors.is_empty() {
                    reply.remove("writeErrors");
                }
            }
            check_write_reply("insert", COLLECTION, &reply)?;
        }
        Ok(())
    }
}

/// Entries per insert command, and bytes (each entry holds at most one document version):
/// well under the server's 48 MB message and 100,000 statement limits.
const INSERT_CHUNK: usize = 1000;
const INSERT_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// `entries` in insert-sized chunks, by count and bytes.
fn chunks(entries: Vec<Document>) -> Vec<Vec<Document>> {
    let mut out: Vec<Vec<Document>> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let size = RawDocumentBuf::from_document(&e).map_or(0, |r| r.as_bytes().len());
        match out.last_mut() {
            Some(last) if last.len() < INSERT_CHUNK && bytes + size <= INSERT_CHUNK_BYTES => {
                bytes += size;
                last.push(e);
            }
            _ => {
                bytes = size;
                out.push(vec![e]);
            }
        }
    }
    out
}

fn read_error(coll: &str, e: &mongodb::error::Error) -> Error {
    Error::from_driver(
        Origin::Target,
        format!("reading {coll} on the backup for its history"),
        e,
    )
}
