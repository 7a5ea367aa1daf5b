//! Update documents: replacement, operators (`$set $unset $inc ...`) or an aggregation
//! pipeline, producing the new document and the change-stream `updateDescription`.
//!
//! Operator updates are validated up front (known operators, non-conflicting paths, code 40),
//! then applied in mongod's order: by field path, lexicographically, numeric components
//! numerically (MongoDB 5.0+). New fields are appended, existing ones updated in place.
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

mod arrays;
mod describe;
mod diff;
mod ops;
mod pipeline;
mod seed;

use crate::compare::{documents_identical, identical};
use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document};

pub use pipeline::UpdatePipeline;
pub use seed::upsert_seed;

/// A parsed `u` of an update statement.
#[derive(Debug, Clone)]
pub enum UpdateSpec {
    Replacement(Document),
    Operators(Document),
    /// An array of stages (MongoDB 4.2+).
    Pipeline(UpdatePipeline),
}

/// Whether the update applies to an existing document or seeds an upsert (only then `$setOnInsert` applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    Update,
    UpsertInsert,
}

/// What an update changed, as change streams report it.
///
/// Contract (property-tested): starting from the old document, truncating each array of
/// `truncated_arrays`, then `$unset` of each `removed_fields` path, then `$set` of each
/// `updated_fields` path gives exactly the new document. Appends by `$push`/`$addToSet` are
/// reported per element (`"arr.3": v`); any other array change reports the whole array, so
/// `truncated_arrays` stays empty (as mongod does for operator updates).
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
    /// What changed, when `as_delta`; empty otherwise.
    pub description: UpdateDescription,
    /// False when the change must be logged as a full replacement (a `replace` event): always
    /// for replacements, for a pipeline whose result no delta expresses (see `diff`).
    pub as_delta: bool,
}

impl UpdateSpec {
    /// Parses `u`: a document whose keys all start with `$` is an operator update, one with none is a replacement.
    pub fn parse(u: &Document) -> CmdResult<Self> {
        let Some(first) = u.keys().next() else {
            return Ok(UpdateSpec::Replacement(Document::new()));
        };
        if first.starts_with('$') {
            ops::validate(u)?;
            return Ok(UpdateSpec::Operators(u.clone()));
        }
        if let Some(k) = u.keys().find(|k| k.starts_with('$')) {
            return Err(CmdError::new(
                code::DOLLAR_PREFIXED_FIELD_NAME,
                "DollarPrefixedFieldName",
                format!("The dollar ($) prefixed field '{k}' in '{k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."),
            ));
        }
        Ok(UpdateSpec::Replacement(u.clone()))
    }

    /// Parses an array `u` (or `findAndModify`'s `update`) as an update pipeline.
    pub fn parse_pipeline(stages: &[Bson]) -> CmdResult<Self> {
        Ok(UpdateSpec::Pipeline(UpdatePipeline::parse(stages)?))
    }

    pub fn is_replacement(&self) -> bool {
        matches!(self, UpdateSpec::Replacement(_))
    }

    /// Applies to `doc`; `_id` is immutable (code 66).
    pub fn apply(&self, doc: &Document, mode: ApplyMode) -> CmdResult<Applied> {
        let (new_doc, description) = match self {
            UpdateSpec::Replacement(r) => (replace(doc, r)?, None),
            UpdateSpec::Pipeline(p) => {
                let new_doc = replace(doc, &p.run(doc)?)?;
                let description = diff::delta(doc, &new_doc);
                (new_doc, description)
            }
            UpdateSpec::Operators(u) => {
                let (mut new_doc, records) = ops::apply_all(u, doc, mode)?;
                check_id_unchanged(doc, &new_doc)?;
                if mode == ApplyMode::UpsertInsert {
                    move_id_first(&mut new_doc);
                }
                let description = describe::describe(doc, &new_doc, &records);
                (new_doc, Some(description))
            }
        };
        let changed = !documents_identical(doc, &new_doc);
        let as_delta = description.is_some();
        let description = match description {
            Some(d) if changed => d,
            _ => UpdateDescription::default(),
        };
        Ok(Applied {
            doc: new_doc,
            changed,
            description,
            as_delta,
        })
    }
}

/// A replacement (or a pipeline's result) keeps the existing `_id` (first), and may only repeat
/// it unchanged; a document without `_id` (an upsert seed) takes the replacement's first.
fn replace(old: &Document, replacement: &Document) -> CmdResult<Document> {
    let mut out = Document::new();
    match (old.get("_id"), replacement.get("_id")) {
        (Some(old_id), Some(new_id)) if !identical(old_id, new_id) => {
            return Err(immutable_id_error(new_id));
        }
        (Some(id), _) | (None, Some(id)) => {
            out.insert("_id", id.clone());
        }
        (None, None) => {}
    }
    for (k, v) in replacement {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

fn immutable_id_error(new_id: &Bson) -> CmdError {
    CmdError::new(
        code::IMMUTABLE_FIELD,
        "ImmutableField",
        format!("After applying the update, the (immutable) field '_id' was found to have been altered to _id: {new_id}"),
    )
}

fn check_id_unchanged(old: &Document, new: &Document) -> CmdResult<()> {
    let Some(old_id) = old.get("_id") else {
        return Ok(());
    };
    match new.get("_id") {
        Some(new_id) if identical(old_id, new_id) => Ok(()),
        _ => Err(CmdError::new(
            code::IMMUTABLE_FIELD,
            "ImmutableField",
            "Performing an update on the path '_id' would modify the immutable field '_id'",
        )),
    }
}

/// mongod stores `_id` as the first field of every inserted document.
pub(crate) fn move_id_first(doc: &mut Document) {
    if doc.keys().next().is_some_and(|k| k == "_id") {
        return;
    }
    if let Some(id) = doc.remove("_id") {
        let rest = std::mem::take(doc);
        doc.insert("_id", id);
        doc.extend(rest);
    }
}

#[cfg(test)]
mod tests;
