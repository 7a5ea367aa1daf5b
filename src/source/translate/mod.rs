//! Change event -> write op. Pure: no I/O. Every op is idempotent, so replaying any prefix of
//! the stream leaves the target as applying it once would.

mod ddl;
mod delta;
mod identity;
#[cfg(test)]
mod tests;

use crate::config::{DdlConfig, UpdateMode};
use crate::source::namespaces::Scope;
pub use ddl::replaced_a_collection;
pub use identity::{ClusterTime, CollectionUuid, DocKey};

use bson::{Document, RawBsonRef, RawDocument, RawDocumentBuf};
use std::borrow::Cow;
use std::sync::Arc;

/// A document carried from the event to the bulk command as the bytes the server sent, never
/// copied: a view into the event's own buffer ([`Body::within`]), shared by the writer's batch
/// and its replay list. Copying each `fullDocument` out of its event was one allocation and a
/// cold write of the whole document per event (README "Performance", round 10).
#[derive(Clone)]
pub struct Body {
    bytes: bytes::Bytes,
    /// The bytes this body keeps alive: the whole event when it views one (what the queue and
    /// batch byte bounds count), else its own length.
    held: usize,
}

impl Body {
    /// A copy of `doc`'s bytes.
    pub fn from_raw(doc: &RawDocument) -> Body {
        let bytes = bytes::Bytes::copy_from_slice(doc.as_bytes());
        Body {
            held: bytes.len(),
            bytes,
        }
    }

    /// `doc`, a document inside `event`, as a view of `event`'s buffer (no copy); a `doc`
    /// from elsewhere is copied.
    pub fn within(event: &bytes::Bytes, doc: &RawDocument) -> Body {
        let range = event.as_ptr_range();
        let inner = doc.as_bytes().as_ptr_range();
        if inner.start < range.start || inner.end > range.end {
            return Body::from_raw(doc);
        }
        Body {
            bytes: event.slice_ref(doc.as_bytes()),
            held: event.len(),
        }
    }

    /// The bytes kept alive by this body (see [`Body::within`]).
    pub fn held_bytes(&self) -> usize {
        self.held
    }
}

/// Equal documents are equal bodies, whatever buffer they view.
impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.bytes == other.bytes
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::from_raw(&RawDocumentBuf::new())
    }
}

impl std::ops::Deref for Body {
    type Target = RawDocument;

    fn deref(&self) -> &RawDocument {
        // Built only from a document's bytes: a length check, no scan.
        RawDocument::from_bytes(&self.bytes).expect("a body holds a document's bytes")
    }
}

impl AsRef<RawDocument> for Body {
    fn as_ref(&self) -> &RawDocument {
        self
    }
}

/// As the document (test failures), not its bytes.
impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Document::try_from(&**self) {
            Ok(doc) => write!(f, "Body({doc})"),
            Err(_) => write!(f, "Body({:?})", &self.bytes[..]),
        }
    }
}

/// What translation needs to know.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    /// Which namespaces are replicated, and their keys.
    pub scope: Arc<Scope>,
    pub update_mode: UpdateMode,
    pub ddl: DdlConfig,
}

/// The write to make on the target for one document (`coll` is the collection's key,
/// [`crate::source::namespaces::Scope`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOp {
    pub coll: String,
    /// The event's `documentKey` (full, incl. shard key fields) as the server sent it: the
    /// filter of the write, and what routing, batching and fences key by.
    pub key: DocKey,
    pub kind: WriteKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    /// Replace-one by key with upsert: insert, replace, and update in `full_document` mode.
    Upsert(Body),
    /// `updateDescription` as operators, upsert=false: `truncate` first (`$push {$each: [], $slice: n}`),
    /// then `$set` / `$unset`.
    Delta {
        /// `updatedFields`, as sent.
        set: Body,
        unset: Vec<String>,
        truncate: Vec<(String, i32)>,
    },
    /// Delete-one by key.
    Delete,
    /// The event cannot be applied exactly from its content (ambiguous dotted / `$` paths, missing
    /// `fullDocument`, split event): read the document by key from the source and upsert it; when
    /// the source no longer has it, leave it to the later event that removed it
    /// ([`crate::apply::plan`]).
    Fetch,
}

impl WriteKind {
    /// An upsert of `doc` (tests, tools; the stream's events carry raw bytes already).
    pub fn upsert(doc: Document) -> WriteKind {
        WriteKind::Upsert(body(&doc))
    }
}

/// `doc` as a [`Body`]. Only a document no server can send (a field name with a NUL byte)
/// fails to encode; it becomes the empty document.
pub fn body(doc: &Document) -> Body {
    RawDocumentBuf::from_document(doc)
        .map(|raw| Body::from_raw(&raw))
        .unwrap_or_default()
}

/// A change event as translation reads it: the stream's raw bytes, or a document (tests,
/// tools), encoded once.
pub trait RawEvent {
    fn raw(&self) -> Result<Cow<'_, RawDocument>, TranslateError>;
}

impl RawEvent for RawDocument {
    fn raw(&self) -> Result<Cow<'_, RawDocument>, TranslateError> {
        Ok(Cow::Borrowed(self))
    }
}

impl RawEvent for RawDocumentBuf {
    fn raw(&self) -> Result<Cow<'_, RawDocument>, TranslateError> {
        Ok(Cow::Borrowed(self.as_ref()))
    }
}

impl RawEvent for Document {
    fn raw(&self) -> Result<Cow<'_, RawDocument>, TranslateError> {
        RawDocumentBuf::from_document(self)
            .map(Cow::Owned)
            .map_err(|e| TranslateError(e.to_string()))
    }
}

/// A DDL op, applied as a barrier (all writers drained first).
#[derive(Debug, Clone, PartialEq)]
pub enum DdlOp {
    Drop {
        coll: String,
    },
    Rename {
        from: String,
        to: String,
    },
    /// A collection outside the replicated scope (not in `source.collections`, or the temporary
    /// collection of `$out`) renamed over `coll`: the backup has none of its documents, so
    /// `coll` is emptied and copied again from the source ([`crate::tail`]).
    RenameIn {
        coll: String,
    },
    DropDatabase,
    Create {
        coll: String,
        options: Document,
    },
    CreateIndexes {
        coll: String,
        indexes: Vec<Document>,
    },
    DropIndexes {
        coll: String,
        names: Vec<String>,
    },
    /// `collMod`: the `modify` event's `operationDescription` (collection options, and `index:
    /// {name | keyPattern, hidden?, expireAfterSeconds?}`).
    Modify {
        coll: String,
        changes: Document,
    },
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
    /// The event's `_id` (resume token), opaque: kept as the bytes the server sent, decoded
    /// only when a checkpoint stores it.
    pub token: RawDocumentBuf,
    pub cluster_time: Option<ClusterTime>,
    /// `wallTime` in ms since epoch, when present.
    pub wall_time_ms: Option<i64>,
    /// `operationType`, for metrics labels (the common names are not allocated per event).
    pub op_type: Cow<'static, str>,
}

/// Why an event could not be translated (malformed event).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("malformed change event: {0}")]
pub struct TranslateError(pub String);

/// One change event read in one pass: its metadata, its op, and what the watcher reads besides.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub meta: EventMeta,
    pub translated: Translated,
    /// The event is one fragment of a split event (`splitEvent`): reassemble first.
    pub split: bool,
    /// `collectionUUID` (servers 6.0+ with expanded events), for writes.
    pub coll_uuid: Option<CollectionUuid>,
}

/// Reads the metadata of a raw change event.
pub fn event_meta<E: RawEvent + ?Sized>(event: &E) -> Result<EventMeta, TranslateError> {
    let event = event.raw()?;
    Top::scan(&event)?.meta()
}

/// Translates one change event (as the server sent it, field order kept). Write events are read
/// in place from the raw bytes; the rare DDL events are decoded into a document first.
pub fn translate<E: RawEvent + ?Sized>(
    event: &E,
    opts: &TranslateOptions,
) -> Result<Translated, TranslateError> {
    read_event(event, opts).map(|e| e.translated)
}

/// [`event_meta`] and [`translate`] from one scan of the event (the watcher's hot path: two
/// scans and a decoded token were 9% of the replicator's CPU, README "Performance").
pub fn read_event<E: RawEvent + ?Sized>(
    event: &E,
    opts: &TranslateOptions,
) -> Result<Event, TranslateError> {
    read_in(&event.raw()?, None, opts)
}

/// [`read_event`] of an event the stream handed over as `event`'s bytes: the documents it
/// carries to the target become views of those bytes ([`Body::within`]), not copies.
pub fn read_shared(event: &bytes::Bytes, opts: &TranslateOptions) -> Result<Event, TranslateError> {
    let raw = RawDocument::from_bytes(event).map_err(|e| TranslateError(e.to_string()))?;
    read_in(raw, Some(event), opts)
}

fn read_in(
    event: &RawDocument,
    owner: Option<&bytes::Bytes>,
    opts: &TranslateOptions,
) -> Result<Event, TranslateError> {
    let mut top = Top::scan(event)?;
    top.owner = owner;
    let meta = top.meta()?;
    let translated = translate_top(event, &top, opts)?;
    let coll_uuid = match translated {
        Translated::Write(_) => top.uuid.and_then(CollectionUuid::from_raw),
        _ => None,
    };
    Ok(Event {
        meta,
        translated,
        split: top.split.is_some(),
        coll_uuid,
    })
}

fn translate_top(
    event: &RawDocument,
    top: &Top<'_>,
    opts: &TranslateOptions,
) -> Result<Translated, TranslateError> {
    if let Some(fragment) = split_fragment(top.split)? {
        if fragment > 1 {
            // The first fragment already asked for the document; the rest only carry its fields.
            return Ok(Translated::Skip);
        }
    }
    let op_type = top
        .op_type()
        .ok_or_else(|| TranslateError("no `operationType`".into()))?;
    match op_type {
        "invalidate" => Ok(Translated::Invalidate),
        "insert" | "replace" | "update" | "delete" => write_event(op_type, top, opts),
        "dropDatabase" => {
            // Only a database replicated whole under its own names is dropped whole; otherwise
            // the `drop` event the server sends for each collection first did the work.
            let ns = namespace(&to_document(event)?, "ns")?;
            let whole = opts.scope.whole_database_target().is_some()
                && opts.scope.single_database() == Some(ns.db.as_str());
            Ok(match whole && opts.ddl.drop_database {
                true => Translated::Ddl(DdlOp::DropDatabase),
                false => Translated::Skip,
            })
        }
        "drop" | "rename" | "create" | "createIndexes" | "dropIndexes" | "modify" => {
            ddl::translate_ddl(op_type, &to_document(event)?, opts)
        }
        // shardCollection, reshardCollection, refineCollectionShardKey, ...: nothing to do on
        // an unsharded backup.
        _ => Ok(Translated::Skip),
    }
}

/// The top-level fields of a raw event that translation reads, found in one pass (a lookup
/// by name scans the document from its start). The first of a repeated name counts.
struct Top<'a> {
    id: Option<RawBsonRef<'a>>,
    op_type: Option<RawBsonRef<'a>>,
    ns: Option<RawBsonRef<'a>>,
    key: Option<RawBsonRef<'a>>,
    full: Option<RawBsonRef<'a>>,
    split: Option<RawBsonRef<'a>>,
    desc: Option<RawBsonRef<'a>>,
    cluster_time: Option<RawBsonRef<'a>>,
    wall_time: Option<RawBsonRef<'a>>,
    uuid: Option<RawBsonRef<'a>>,
    /// The buffer the event was read from, when its documents may view it ([`read_shared`]).
    owner: Option<&'a bytes::Bytes>,
}

impl<'a> Top<'a> {
    fn scan(event: &'a RawDocument) -> Result<Top<'a>, TranslateError> {
        let [id, op_type, ns, key, full, split, desc, cluster_time, wall_time, uuid] = fields(
            event,
            [
                "_id",
                "operationType",
                "ns",
                "documentKey",
                "fullDocument",
                "splitEvent",
                "updateDescription",
                "clusterTime",
                "wallTime",
                "collectionUUID",
            ],
        )?;
        Ok(Top {
            id,
            op_type,
            ns,
            key,
            full,
            split,
            desc,
            cluster_time,
            wall_time,
            uuid,
            owner: None,
        })
    }

    fn meta(&self) -> Result<EventMeta, TranslateError> {
        let token = match self.id {
            Some(RawBsonRef::Document(t)) => t.to_raw_document_buf(),
            Some(_) => {
                return Err(TranslateError(
                    "`_id` (resume token) is not a document".into(),
                ))
            }
            None => return Err(TranslateError("no `_id` (resume token)".into())),
        };
        let wall_time_ms = match self.wall_time {
            Some(RawBsonRef::DateTime(t)) => Some(t.timestamp_millis()),
            _ => None,
        };
        let cluster_time = match self.cluster_time {
            Some(RawBsonRef::Timestamp(t)) => Some(ClusterTime(t)),
            _ => None,
        };
        Ok(EventMeta {
            token,
            cluster_time,
            wall_time_ms,
            // Later fragments of a split event carry no operationType.
            op_type: static_name(self.op_type().unwrap_or("fragment")),
        })
    }

    /// A document of this event as a [`Body`]: a view of the event's buffer when it has one.
    fn body(&self, doc: &RawDocument) -> Body {
        match self.owner {
            Some(owner) => Body::within(owner, doc),
            None => Body::from_raw(doc),
        }
    }

    fn op_type(&self) -> Option<&'a str> {
        match self.op_type {
            Some(RawBsonRef::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// `operationType` as a `&'static str` when it is one of the usual ones.
fn static_name(op_type: &str) -> Cow<'static, str> {
    const USUAL: [&str; 6] = ["insert", "update", "replace", "delete", "drop", "fragment"];
    match USUAL.iter().find(|n| **n == op_type) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(op_type.to_string()),
    }
}

/// The values of `names` in `doc`, read in one pass (a lookup by name scans the document from
/// its start each time); the first of a repeated name counts, malformed bytes are a malformed
/// event.
pub(crate) fn fields<'a, const N: usize>(
    doc: &'a RawDocument,
    names: [&str; N],
) -> Result<[Option<RawBsonRef<'a>>; N], TranslateError> {
    let mut values = [None; N];
    for entry in doc {
        let (name, value) = entry.map_err(|e| TranslateError(e.to_string()))?;
        if let Some(i) = names.iter().position(|n| *n == name) {
            values[i].get_or_insert(value);
        }
    }
    Ok(values)
}

/// A field of a raw event; malformed bytes are a malformed event.
pub(crate) fn field<'a>(
    doc: &'a RawDocument,
    key: &str,
) -> Result<Option<RawBsonRef<'a>>, TranslateError> {
    doc.get(key).map_err(|e| TranslateError(e.to_string()))
}

pub(crate) fn to_document(doc: &RawDocument) -> Result<Document, TranslateError> {
    Document::try_from(doc).map_err(|e| TranslateError(e.to_string()))
}

/// A namespace `{db, coll?}` read from an event field.
pub(crate) struct Namespace {
    pub db: String,
    pub coll: Option<String>,
}

pub(crate) fn namespace(event: &Document, field: &str) -> Result<Namespace, TranslateError> {
    let ns = event
        .get_document(field)
        .map_err(|_| TranslateError(format!("no `{field}` namespace")))?;
    let db = ns
        .get_str("db")
        .map_err(|_| TranslateError(format!("no `{field}.db`")))?;
    Ok(Namespace {
        db: db.to_string(),
        coll: ns.get_str("coll").ok().map(str::to_string),
    })
}

impl TranslateOptions {
    /// The key of an event's collection if it is replicated.
    pub(crate) fn in_scope(&self, ns: &Namespace) -> Option<String> {
        let coll = ns.coll.as_deref()?;
        self.scope
            .key(&super::namespaces::Namespace::new(&ns.db, coll))
    }
}

/// `splitEvent.fragment` when the event is one fragment of a large event.
fn split_fragment(split: Option<RawBsonRef<'_>>) -> Result<Option<i64>, TranslateError> {
    match split {
        None => Ok(None),
        Some(RawBsonRef::Document(split)) => match field(split, "fragment")? {
            Some(RawBsonRef::Int32(n)) => Ok(Some(i64::from(n))),
            Some(RawBsonRef::Int64(n)) => Ok(Some(n)),
            _ => Err(TranslateError(
                "`splitEvent` without a `fragment` number".into(),
            )),
        },
        Some(_) => Err(TranslateError("`splitEvent` is not a document".into())),
    }
}

/// insert / replace / update / delete, read from the raw event: the key, the document or the
/// delta stay the bytes the server sent.
fn write_event(
    op_type: &str,
    event: &Top<'_>,
    opts: &TranslateOptions,
) -> Result<Translated, TranslateError> {
    let Some(RawBsonRef::Document(ns)) = event.ns else {
        return Err(TranslateError("no `ns` namespace".into()));
    };
    let (mut db, mut coll) = (None, None);
    for entry in ns {
        match entry.map_err(|e| TranslateError(e.to_string()))? {
            ("db", RawBsonRef::String(s)) => db = db.or(Some(s)),
            ("coll", RawBsonRef::String(s)) => coll = coll.or(Some(s)),
            _ => {}
        }
    }
    let db = db.ok_or_else(|| TranslateError("no `ns.db`".into()))?;
    let Some(coll) = coll.and_then(|coll| opts.scope.key_of(db, coll)) else {
        return Ok(Translated::Skip);
    };
    let key = match event.key {
        Some(RawBsonRef::Document(k)) => DocKey::from_raw(k),
        _ => {
            return Err(TranslateError(format!(
                "{op_type} event without `documentKey`"
            )))
        }
    };
    let full_document = match event.full {
        Some(RawBsonRef::Document(d)) => Some(d),
        _ => None,
    };
    let kind = if event.split.is_some() {
        WriteKind::Fetch
    } else {
        match (op_type, opts.update_mode) {
            ("delete", _) => WriteKind::Delete,
            ("insert" | "replace", _) | ("update", UpdateMode::FullDocument) => {
                full_document.map_or(WriteKind::Fetch, |d| WriteKind::Upsert(event.body(d)))
            }
            _ => delta::delta_kind(event.desc, |d| event.body(d))?,
        }
    };
    Ok(Translated::Write(WriteOp { coll, key, kind }))
}
