//! The data: databases, collections (documents ordered by `_id` in BSON order), indexes
//! (unique enforced), and every committed change appended to the oplog (and the journal
//! when `--dbpath` is set) before the write is acknowledged.
// `CmdError` is large by design (whole mongod error replies); results carry it unboxed.
#![allow(clippy::result_large_err)]

mod capped;
mod clustered;
mod coll_mod;
mod collection;
mod data;
mod ddl;
mod index;
mod journal;
mod keys;
pub(crate) mod oplog;
mod persist;
mod preimages;
mod size;
mod ttl;
mod txn;
mod validation;
mod views;
mod write;

use crate::error::CmdResult;
use crate::matcher::Matcher;
use crate::update::UpdateSpec;
use bson::{Bson, Document, Timestamp};
pub(crate) use coll_mod::seconds;
use data::Data;
pub(crate) use index::id_index_spec;
use journal::Journal;
use keys::IdKey;
use oplog::{ts_key, Oplog, OplogEntry, Position};
use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// `db.collection`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub db: String,
    pub coll: String,
}

impl Namespace {
    pub fn new(db: impl Into<String>, coll: impl Into<String>) -> Self {
        Namespace {
            db: db.into(),
            coll: coll.into(),
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Where data, indexes and oplog persist; `None` keeps everything in memory.
    pub dbpath: Option<PathBuf>,
    /// Oldest oplog entries are discarded beyond this many.
    pub oplog_max_entries: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dbpath: None,
            oplog_max_entries: 10_000_000,
        }
    }
}

/// One statement of an `update` command.
#[derive(Debug, Clone)]
pub struct UpdateStatement {
    pub filter: Document,
    pub update: UpdateSpec,
    pub upsert: bool,
    pub multi: bool,
    /// Optional `sort` (replaceOne/updateOne with sort, 8.0+); `None` for natural order.
    pub sort: Option<Document>,
    /// The statement's `collation`; `None`: the collection's default.
    pub collation: Option<Document>,
}

/// One statement of a `delete` command (`limit: 1` → `limit_one`).
#[derive(Debug, Clone)]
pub struct DeleteStatement {
    pub filter: Document,
    pub limit_one: bool,
    /// The statement's `collation`; `None`: the collection's default.
    pub collation: Option<Document>,
}

/// Result of a multi-statement write command.
#[derive(Debug, Clone, Default)]
pub struct WriteOutcome {
    /// Inserted / matched (plus upserted) / deleted count, as the command's `n`.
    pub n: u64,
    pub n_modified: u64,
    /// `(statement index, _id)` of upserts.
    pub upserted: Vec<(usize, Bson)>,
    /// `(statement index, error)`; ordered writes stop at the first.
    pub write_errors: Vec<(usize, crate::error::CmdError)>,
}

/// Per-command write options.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `bypassDocumentValidation`: collection validators are not applied.
    pub bypass_validation: bool,
}

/// Arguments of `findAndModify`.
#[derive(Debug, Clone)]
pub struct FindAndModify {
    pub filter: Document,
    pub sort: Option<Document>,
    pub remove: bool,
    pub update: Option<UpdateSpec>,
    pub return_new: bool,
    pub upsert: bool,
    pub fields: Option<Document>,
    /// The command's `collation`; `None`: the collection's default.
    pub collation: Option<Document>,
}

#[derive(Debug, Clone)]
pub struct FindAndModifyOutcome {
    pub value: Option<Document>,
    /// `{n, updatedExisting, upserted?}` as mongod reports it.
    pub last_error_object: Document,
}

/// A collection as `listCollections` shows it.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub name: String,
    pub options: Document,
    pub uuid: bson::Binary,
}

/// The whole server's data. Shared as `Arc<Store>`; internally synchronised.
///
/// Writers take the data lock, then the oplog lock, change the data, append one oplog entry
/// per change (and its journal record), write the journal and only then return: so the oplog
/// order is the commit order and nothing acknowledged is lost on `kill -9`. Change streams only
/// take the oplog lock, briefly, and are woken through a watch channel.
pub struct Store {
    data: RwLock<Data>,
    log: Mutex<LogState>,
    /// Latest committed cluster time (as `ts_key`); change streams wait on it.
    changes: watch::Sender<u64>,
    dbpath: Option<PathBuf>,
}

/// The oplog and its on-disk journal, guarded together.
pub(crate) struct LogState {
    oplog: Oplog,
    journal: Option<Journal>,
    /// Size of the last snapshot; the journal is compacted once it outgrows it.
    snapshot_size: u64,
    /// Change-stream pre-images (bounded by the oplog, see `preimages`).
    pre_images: preimages::PreImages,
    /// `changeStreamOptions.preAndPostImages.expireAfterSeconds`; `None`: "off".
    pre_image_expiry: Option<i64>,
}

/// What a change stream gets from one oplog read.
pub(crate) struct OplogRead {
    pub entries: Vec<Arc<OplogEntry>>,
    pub history_start: Position,
    pub last_ts: Timestamp,
}

impl Store {
    /// Opens (or recovers from `dbpath`) the store.
    pub fn open(options: StoreOptions) -> std::io::Result<Arc<Store>> {
        let (data, oplog, journal, snapshot_size) = match &options.dbpath {
            Some(dir) => {
                let r = persist::recover(dir)?;
                let mut oplog = Oplog::new(options.oplog_max_entries, r.last_ts, r.history_start);
                for e in r.entries {
                    oplog.push(Arc::new(e));
                }
                let has_snapshot = dir.join(persist::SNAPSHOT).exists();
                let (snapshot_size, journal_len) = if r.journal_len > 0 || !has_snapshot {
                    (persist::write_snapshot(dir, &r.data, &oplog)?, 0)
                } else {
                    (
                        std::fs::metadata(dir.join(persist::SNAPSHOT))?.len(),
                        r.journal_len,
                    )
                };
                let journal = Journal::open(&dir.join(persist::JOURNAL), journal_len)?;
                (r.data, oplog, Some(journal), snapshot_size)
            }
            None => (
                Data::default(),
                Oplog::new(options.oplog_max_entries, None, None),
                None,
                0,
            ),
        };
        let (changes, _) = watch::channel(ts_key(oplog.last_ts()));
        Ok(Arc::new(Store {
            data: RwLock::new(data),
            log: Mutex::new(LogState {
                oplog,
                journal,
                snapshot_size,
                pre_images: preimages::PreImages::default(),
                pre_image_expiry: None,
            }),
            changes,
            dbpath: options.dbpath,
        }))
    }

    /// Cluster time of the last committed oplog entry (or of startup when none).
    pub fn cluster_time(&self) -> Timestamp {
        self.log.lock().oplog.last_ts()
    }

    pub fn insert(&self, ns: &Namespace, docs: Vec<Document>, ordered: bool) -> WriteOutcome {
        self.insert_impl(ns, docs, ordered, &WriteOptions::default())
    }

    pub fn insert_with(
        &self,
        ns: &Namespace,
        docs: Vec<Document>,
        ordered: bool,
        opts: &WriteOptions,
    ) -> WriteOutcome {
        self.insert_impl(ns, docs, ordered, opts)
    }

    pub fn update(&self, ns: &Namespace, stmts: &[UpdateStatement], ordered: bool) -> WriteOutcome {
        self.update_impl(ns, stmts, ordered, &WriteOptions::default())
    }

    pub fn update_with(
        &self,
        ns: &Namespace,
        stmts: &[UpdateStatement],
        ordered: bool,
        opts: &WriteOptions,
    ) -> WriteOutcome {
        self.update_impl(ns, stmts, ordered, opts)
    }

    pub fn delete(&self, ns: &Namespace, stmts: &[DeleteStatement], ordered: bool) -> WriteOutcome {
        self.delete_impl(ns, stmts, ordered)
    }

    pub fn find_and_modify(
        &self,
        ns: &Namespace,
        args: &FindAndModify,
    ) -> CmdResult<FindAndModifyOutcome> {
        self.find_and_modify_impl(ns, args, &WriteOptions::default())
    }

    pub fn find_and_modify_with(
        &self,
        ns: &Namespace,
        args: &FindAndModify,
        opts: &WriteOptions,
    ) -> CmdResult<FindAndModifyOutcome> {
        self.find_and_modify_impl(ns, args, opts)
    }

    /// Visits matching documents in `_id` order until `visit` returns false.
    /// Visits the matching documents; the cluster time of the data it visited (read
    /// concern "snapshot" reports it as `atClusterTime`). Writers append to the oplog while
    /// they hold the data lock, so under it the last oplog entry is the time of the data.
    pub fn scan(
        &self,
        ns: &Namespace,
        filter: &Matcher,
        visit: &mut dyn FnMut(&Document) -> bool,
    ) -> Timestamp {
        let data = self.data.read();
        if let Some(c) = data.coll(ns) {
            visit_matching(c, filter, visit);
        }
        self.log.lock().oplog.last_ts()
    }

    /// The current version of the document with this `_id` (change-stream `updateLookup`).
    pub fn find_by_id(&self, ns: &Namespace, id: &Bson) -> Option<Document> {
        let data = self.data.read();
        data.coll(ns)?.get(id).map(|s| (*s.doc).clone())
    }

    /// `(name, sizeOnDisk)` of every database holding at least one collection.
    pub fn list_databases(&self) -> Vec<(String, u64)> {
        let data = self.data.read();
        data.dbs
            .iter()
            .filter(|(_, colls)| !colls.is_empty())
            .map(|(name, colls)| (name.clone(), colls.values().map(|c| c.data_size).sum()))
            .collect()
    }

    pub fn list_collections(&self, db: &str) -> Vec<CollectionInfo> {
        let data = self.data.read();
        let Some(colls) = data.dbs.get(db) else {
            return Vec::new();
        };
        colls
            .iter()
            .map(|(name, c)| CollectionInfo {
                name: name.clone(),
                options: c.options.clone(),
                uuid: c.uuid.clone(),
            })
            .collect()
    }

    /// Explicit `create`; `NamespaceExists` (48) when it exists.
    pub fn create_collection(&self, ns: &Namespace, options: Document) -> CmdResult<()> {
        self.create_collection_impl(ns, options)
    }

    /// Returns false when the collection did not exist.
    pub fn drop_collection(&self, ns: &Namespace) -> CmdResult<bool> {
        self.drop_collection_impl(ns)
    }

    pub fn drop_database(&self, db: &str) -> CmdResult<()> {
        self.drop_database_impl(db)
    }

    pub fn rename_collection(
        &self,
        from: &Namespace,
        to: &Namespace,
        drop_target: bool,
    ) -> CmdResult<()> {
        self.rename_collection_impl(from, to, drop_target)
    }

    /// Index specs (`{v, key, name, unique?}`); `NamespaceNotFound` when the collection does not exist.
    pub fn list_indexes(&self, ns: &Namespace) -> CmdResult<Vec<Document>> {
        let data = self.data.read();
        let c = data.coll(ns).ok_or_else(|| {
            crate::error::CmdError::namespace_not_found(format!("ns does not exist: {ns}"))
        })?;
        Ok(c.indexes.iter().map(|i| i.spec.clone()).collect())
    }

    /// Returns `(numIndexesBefore, numIndexesAfter, createdCollectionAutomatically)`.
    /// A unique index over existing duplicates fails with 11000.
    pub fn create_indexes(
        &self,
        ns: &Namespace,
        specs: Vec<Document>,
    ) -> CmdResult<(i32, i32, bool)> {
        self.create_indexes_impl(ns, specs)
    }

    /// `index` is a name, a key pattern document, `"*"`, or an array of names. Returns `nIndexesWas`.
    pub fn drop_indexes(&self, ns: &Namespace, index: &Bson) -> CmdResult<i32> {
        self.drop_indexes_impl(ns, index)
    }

    /// Number of documents in a collection (0 when absent).
    pub fn count(&self, ns: &Namespace) -> u64 {
        self.data.read().coll(ns).map_or(0, |c| c.docs.len() as u64)
    }

    /// Up to `max` oplog entries at or after the cluster time `from` (as `ts_key`).
    pub(crate) fn read_oplog(&self, from: u64, max: usize) -> OplogRead {
        let log = self.log.lock();
        OplogRead {
            entries: log.oplog.read_from(from, max),
            history_start: log.oplog.history_start(),
            last_ts: log.oplog.last_ts(),
        }
    }

    /// Where history starts and the latest cluster time (change-stream open checks).
    pub(crate) fn oplog_bounds(&self) -> (Position, Timestamp) {
        let log = self.log.lock();
        (log.oplog.history_start(), log.oplog.last_ts())
    }

    /// The pre-image recorded for the change at `ts` to the collection `uuid`, unless expired.
    pub(crate) fn pre_image(&self, uuid: &bson::Binary, ts: Timestamp) -> Option<Arc<Document>> {
        let log = self.log.lock();
        if let Some(secs) = log.pre_image_expiry {
            if ts_key(ts) < preimages::expiry_cutoff(preimages::now_secs(), secs) {
                return None;
            }
        }
        log.pre_images.get(uuid, ts_key(ts))
    }

    /// `changeStreamOptions.preAndPostImages.expireAfterSeconds` (`None`: "off").
    pub(crate) fn pre_image_expiry(&self) -> Option<i64> {
        self.log.lock().pre_image_expiry
    }

    pub(crate) fn set_pre_image_expiry(&self, secs: Option<i64>) {
        self.log.lock().pre_image_expiry = secs;
    }

    /// A receiver that changes whenever something is committed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// The documents of `c` that match `filter`, in natural order, until `visit` says stop.
fn visit_matching(
    c: &collection::Collection,
    filter: &Matcher,
    visit: &mut dyn FnMut(&Document) -> bool,
) {
    if let Some(id) = filter.id_equality() {
        if let Some(s) = c.docs.get(&IdKey(id.clone())) {
            if filter.matches(&s.doc) {
                visit(&s.doc);
            }
        }
        return;
    }
    if let Some(ids) = filter.id_in() {
        // Point lookups, visited in `_id` order as a scan would (duplicates once).
        let mut hits: Vec<(&IdKey, &Document)> = ids
            .iter()
            .filter_map(|id| c.docs.get_key_value(&IdKey(id.clone())))
            .map(|(k, s)| (k, &*s.doc))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(b.0));
        hits.dedup_by(|a, b| a.0 == b.0);
        for (_, doc) in hits {
            if filter.matches(doc) && !visit(doc) {
                return;
            }
        }
        return;
    }
    // Natural order: insertion order for a capped collection, `_id` order otherwise.
    let docs: Box<dyn Iterator<Item = &collection::Stored>> = if c.capped.is_some() {
        Box::new(c.order.iter().filter_map(|k| c.docs.get(k)))
    } else {
        Box::new(c.docs.values())
    };
    for s in docs {
        if filter.matches(&s.doc) && !visit(&s.doc) {
            return;
        }
    }
}
