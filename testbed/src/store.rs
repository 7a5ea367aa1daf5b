//! The data: databases, collections (documents ordered by `_id` in BSON order), indexes
//! (unique enforced), and every committed change appended to the oplog (and the journal
//! when `--dbpath` is set) before the write is acknowledged.
// OWNER: store helper. Stub bodies are replaced by the real implementation.

use crate::error::CmdResult;
use crate::matcher::Matcher;
use crate::update::UpdateSpec;
use bson::{Bson, Document, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;

/// `db.collection`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub db: String,
    pub coll: String,
}

impl Namespace {
    pub fn new(db: impl Into<String>, coll: impl Into<String>) -> Self {
        Namespace { db: db.into(), coll: coll.into() }
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
        StoreOptions { dbpath: None, oplog_max_entries: 10_000_000 }
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
}

/// One statement of a `delete` command (`limit: 1` → `limit_one`).
#[derive(Debug, Clone)]
pub struct DeleteStatement {
    pub filter: Document,
    pub limit_one: bool,
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
pub struct Store {
    _private: (),
}

impl Store {
    /// Opens (or recovers from `dbpath`) the store.
    pub fn open(options: StoreOptions) -> std::io::Result<Arc<Store>> {
        let _ = options;
        todo!("store")
    }

    /// Cluster time of the last committed oplog entry (or of startup when none).
    pub fn cluster_time(&self) -> Timestamp {
        todo!("store")
    }

    pub fn insert(&self, ns: &Namespace, docs: Vec<Document>, ordered: bool) -> WriteOutcome {
        let _ = (ns, docs, ordered);
        todo!("store")
    }

    pub fn update(&self, ns: &Namespace, stmts: &[UpdateStatement], ordered: bool) -> WriteOutcome {
        let _ = (ns, stmts, ordered);
        todo!("store")
    }

    pub fn delete(&self, ns: &Namespace, stmts: &[DeleteStatement], ordered: bool) -> WriteOutcome {
        let _ = (ns, stmts, ordered);
        todo!("store")
    }

    pub fn find_and_modify(&self, ns: &Namespace, args: &FindAndModify) -> CmdResult<FindAndModifyOutcome> {
        let _ = (ns, args);
        todo!("store")
    }

    /// Visits matching documents in `_id` order until `visit` returns false.
    pub fn scan(&self, ns: &Namespace, filter: &Matcher, visit: &mut dyn FnMut(&Document) -> bool) {
        let _ = (ns, filter, visit);
        todo!("store")
    }

    /// The current version of the document with this `_id` (change-stream `updateLookup`).
    pub fn find_by_id(&self, ns: &Namespace, id: &Bson) -> Option<Document> {
        let _ = (ns, id);
        todo!("store")
    }

    /// `(name, sizeOnDisk)` of every database holding at least one collection.
    pub fn list_databases(&self) -> Vec<(String, u64)> {
        todo!("store")
    }

    pub fn list_collections(&self, db: &str) -> Vec<CollectionInfo> {
        let _ = db;
        todo!("store")
    }

    /// Explicit `create`; `NamespaceExists` (48) when it exists.
    pub fn create_collection(&self, ns: &Namespace, options: Document) -> CmdResult<()> {
        let _ = (ns, options);
        todo!("store")
    }

    /// Returns false when the collection did not exist.
    pub fn drop_collection(&self, ns: &Namespace) -> CmdResult<bool> {
        let _ = ns;
        todo!("store")
    }

    pub fn drop_database(&self, db: &str) -> CmdResult<()> {
        let _ = db;
        todo!("store")
    }

    pub fn rename_collection(&self, from: &Namespace, to: &Namespace, drop_target: bool) -> CmdResult<()> {
        let _ = (from, to, drop_target);
        todo!("store")
    }

    /// Index specs (`{v, key, name, unique?}`); `NamespaceNotFound` when the collection does not exist.
    pub fn list_indexes(&self, ns: &Namespace) -> CmdResult<Vec<Document>> {
        let _ = ns;
        todo!("store")
    }

    /// Returns `(numIndexesBefore, numIndexesAfter, createdCollectionAutomatically)`.
    /// A unique index over existing duplicates fails with 11000.
    pub fn create_indexes(&self, ns: &Namespace, specs: Vec<Document>) -> CmdResult<(i32, i32, bool)> {
        let _ = (ns, specs);
        todo!("store")
    }

    /// `index` is a name, a key pattern document, `"*"`, or an array of names. Returns `nIndexesWas`.
    pub fn drop_indexes(&self, ns: &Namespace, index: &Bson) -> CmdResult<i32> {
        let _ = (ns, index);
        todo!("store")
    }

    /// Number of documents in a collection (0 when absent).
    pub fn count(&self, ns: &Namespace) -> u64 {
        let _ = ns;
        todo!("store")
    }
}
