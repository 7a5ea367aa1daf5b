//! Update documents: replacement or operators (`$set $unset $inc ...`), producing the new
//! document and the change-stream `updateDescription`.
// OWNER: query-engine helper.

use crate::error::CmdResult;
use bson::Document;

/// A parsed `u` of an update statement.
#[derive(Debug, Clone)]
pub enum UpdateSpec {
    Replacement(Document),
    Operators(Document),
}

/// Whether the update applies to an existing document or seeds an upsert (only then `$setOnInsert` applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    Update,
    UpsertInsert,
}

/// What an update changed, as change streams report it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateDescription {
    pub updated_fields: Document,
    pub removed_fields: Vec<String>,
    /// `(field, newSize)` pairs.
    pub truncated_arrays: Vec<(String, i32)>,
}

/// The result of applying an update to one document.
#[derive(Debug, Clone)]
pub struct Applied {
    pub doc: Document,
    /// False when the new document equals the old one (no write, no oplog entry).
    pub changed: bool,
    /// Meaningful for operator updates; for replacements the event is a `replace`.
    pub description: UpdateDescription,
}

impl UpdateSpec {
    /// Parses `u`: a document whose keys all start with `$` is an operator update, one with none is a replacement.
    pub fn parse(u: &Document) -> CmdResult<Self> {
        let _ = u;
        todo!("query-engine")
    }

    pub fn is_replacement(&self) -> bool {
        matches!(self, UpdateSpec::Replacement(_))
    }

    /// Applies to `doc`; `_id` is immutable (code 66).
    pub fn apply(&self, doc: &Document, mode: ApplyMode) -> CmdResult<Applied> {
        let _ = (doc, mode);
        todo!("query-engine")
    }
}

/// The seed document of an upsert: the equality conditions of `filter` (including dotted paths and `_id`).
pub fn upsert_seed(filter: &Document) -> CmdResult<Document> {
    let _ = filter;
    todo!("query-engine")
}
