//! Change event -> write op. Pure: no I/O. Every op is idempotent, so replaying any prefix of
//! the stream leaves the target as applying it once would.
// OWNER: core-logic helper.

use crate::config::{DdlConfig, UpdateMode};
use bson::{Document, Timestamp};

/// What translation needs to know.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    pub source_db: String,
    pub update_mode: UpdateMode,
    pub ddl: DdlConfig,
    /// Only these source collections when set.
    pub collections: Option<Vec<String>>,
}

/// The write to make on the target for one document (`coll` is the collection name, the same on both sides).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOp {
    pub coll: String,
    /// The event's `documentKey` (full, incl. shard key fields): the filter of the write.
    pub key: Document,
    pub kind: WriteKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    /// Replace-one by key with upsert: insert, replace, and update in `full_document` mode.
    Upsert(Document),
    /// `updateDescription` as operators, upsert=false: `truncate` first (`$push {$each: [], $slice: n}`),
    /// then `$set` / `$unset`.
    Delta { set: Document, unset: Vec<String>, truncate: Vec<(String, i32)> },
    /// Delete-one by key.
    Delete,
    /// The event cannot be applied exactly from its content (ambiguous dotted / `$` paths, missing
    /// `fullDocument`, split event): read the document by key from the source and upsert it, or delete
    /// it on the target when the source no longer has it.
    Fetch,
}

/// A DDL op, applied as a barrier (all writers drained first).
#[derive(Debug, Clone, PartialEq)]
pub enum DdlOp {
    Drop { coll: String },
    Rename { from: String, to: String },
    DropDatabase,
    Create { coll: String, options: Document },
    CreateIndexes { coll: String, indexes: Vec<Document> },
    DropIndexes { coll: String, names: Vec<String> },
}

/// The outcome of translating one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Translated {
    Write(WriteOp),
    Ddl(DdlOp),
    /// Nothing to do on the target (filtered collection, DDL switched off, other database, unknown type).
    Skip,
    /// The stream ended (`invalidate`): reopen with `startAfter` this event's token.
    Invalidate,
}

/// The fields of an event the pipeline needs besides the op.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeta {
    /// The event's `_id` (resume token), opaque.
    pub token: Document,
    pub cluster_time: Option<Timestamp>,
    /// `wallTime` in ms since epoch, when present.
    pub wall_time_ms: Option<i64>,
    /// `operationType`, for metrics labels.
    pub op_type: String,
}

/// Why an event could not be translated (malformed event).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("malformed change event: {0}")]
pub struct TranslateError(pub String);

/// Reads the metadata of a raw change event.
pub fn event_meta(event: &Document) -> Result<EventMeta, TranslateError> {
    let _ = event;
    todo!("core-logic")
}

/// Translates one raw change event (as the server sent it, field order kept).
pub fn translate(event: &Document, opts: &TranslateOptions) -> Result<Translated, TranslateError> {
    let _ = (event, opts);
    todo!("core-logic")
}
