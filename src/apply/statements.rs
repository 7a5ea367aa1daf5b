//! The exact shapes of the bulk `update` / `delete` statements a batch sends.

use bson::{doc, Bson, Document};

/// Replace-one by key with upsert: `{q: key, u: doc, upsert: true, multi: false}`.
///
/// A document with a top-level `$`-prefixed name (legal to insert since MongoDB 5.0) is refused
/// as a replacement (code 52), so it is written by the one-stage pipeline
/// `[{$replaceWith: {$literal: doc}}]` instead: the same document, atomically, in the same
/// ordered statement list (servers 4.2+).
pub fn upsert_statement(key: Document, doc: Document) -> Document {
    let u: Bson = if doc.keys().any(|k| k.starts_with('$')) {
        Bson::Array(vec![doc! { "$replaceWith": { "$literal": doc } }.into()])
    } else {
        doc.into()
    };
    doc! { "q": key, "u": u, "upsert": true, "multi": false }
}

/// Delete-one by key: `{q: key, limit: 1}`.
pub fn delete_statement(key: Document) -> Document {
    doc! { "q": key, "limit": 1 }
}

/// A delta as at most two statements, both upsert=false: array truncation first
/// (`$push {f: {$each: [], $slice: n}}`, as `truncatedArrays` is computed before `updatedFields`),
/// then `$set`/`$unset` (an empty operator is omitted; an empty delta yields nothing).
pub fn delta_statements(
    key: &Document,
    set: Document,
    unset: &[String],
    truncate: &[(String, i32)],
) -> Vec<Document> {
    let mut out = Vec::with_capacity(2);
    if !truncate.is_empty() {
        let mut push = Document::new();
        for (field, size) in truncate {
            push.insert(field.clone(), doc! { "$each": [], "$slice": *size });
        }
        out.push(update_only(key, doc! { "$push": push }));
    }
    let mut ops = Document::new();
    if !set.is_empty() {
        ops.insert("$set", set);
    }
    if !unset.is_empty() {
        let fields: Document = unset.iter().map(|p| (p.clone(), 1.into())).collect();
        ops.insert("$unset", fields);
    }
    if !ops.is_empty() {
        out.push(update_only(key, ops));
    }
    out
}

fn update_only(key: &Document, u: Document) -> Document {
    doc! { "q": key.clone(), "u": u, "upsert": false, "multi": false }
}
