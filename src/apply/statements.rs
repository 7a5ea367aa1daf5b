//! The exact shapes of the bulk `update` / `delete` statements a batch sends, built as raw
//! BSON: the key and the document are appended as the bytes they already are.

use bson::{rawdoc, RawArrayBuf, RawDocument, RawDocumentBuf};

/// Replace-one by key with upsert: `{q: key, u: doc, upsert: true, multi: false}`.
///
/// A document with a top-level `$`-prefixed name (legal to insert since MongoDB 5.0) is refused
/// as a replacement (code 52), so it is written by the one-stage pipeline
/// `[{$replaceWith: {$literal: doc}}]` instead: the same document, atomically, in the same
/// ordered statement list (servers 4.2+).
pub fn upsert_statement(key: &RawDocument, doc: &RawDocument) -> RawDocumentBuf {
    let mut st = RawDocumentBuf::new();
    st.append_ref("q", key);
    let dollar = doc.iter().any(|e| e.is_ok_and(|(k, _)| k.starts_with('$')));
    if dollar {
        let mut literal = RawDocumentBuf::new();
        literal.append_ref("$literal", doc);
        let mut stage = RawDocumentBuf::new();
        stage.append("$replaceWith", literal);
        let mut pipeline = RawArrayBuf::new();
        pipeline.push(stage);
        st.append("u", pipeline);
    } else {
        st.append_ref("u", doc);
    }
    st.append("upsert", true);
    st.append("multi", false);
    st
}

/// Delete-one by key: `{q: key, limit: 1}`.
pub fn delete_statement(key: &RawDocument) -> RawDocumentBuf {
    let mut st = RawDocumentBuf::new();
    st.append_ref("q", key);
    st.append("limit", 1);
    st
}

/// A delta as at most two statements, both upsert=false: array truncation first
/// (`$push {f: {$each: [], $slice: n}}`, as `truncatedArrays` is computed before `updatedFields`),
/// then `$set`/`$unset` (an empty operator is omitted; an empty delta yields nothing).
pub fn delta_statements(
    key: &RawDocument,
    set: &RawDocument,
    unset: &[String],
    truncate: &[(String, i32)],
) -> Vec<RawDocumentBuf> {
    let mut out = Vec::with_capacity(2);
    if !truncate.is_empty() {
        let mut push = RawDocumentBuf::new();
        for (field, size) in truncate {
            push.append(field, rawdoc! { "$each": [], "$slice": *size });
        }
        let mut u = RawDocumentBuf::new();
        u.append("$push", push);
        out.push(update_only(key, &u));
    }
    let mut ops = RawDocumentBuf::new();
    if !set.is_empty() {
        ops.append_ref("$set", set);
    }
    if !unset.is_empty() {
        let mut fields = RawDocumentBuf::new();
        for p in unset {
            fields.append(p, 1);
        }
        ops.append("$unset", fields);
    }
    if !ops.is_empty() {
        out.push(update_only(key, &ops));
    }
    out
}

fn update_only(key: &RawDocument, u: &RawDocument) -> RawDocumentBuf {
    let mut st = RawDocumentBuf::new();
    st.append_ref("q", key);
    st.append_ref("u", u);
    st.append("upsert", false);
    st.append("multi", false);
    st
}

/// `doc` encoded once, for the statements of documents read as trees (fetches, the copy's
/// replace fallback). Only a document no server sends (a NUL in a name) fails: empty then.
pub fn raw(doc: &bson::Document) -> RawDocumentBuf {
    RawDocumentBuf::from_document(doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn statements_are_the_documented_shapes() {
        let key = raw(&doc! {"_id": 1});
        let st = upsert_statement(&key, &raw(&doc! {"_id": 1, "$p": 2}));
        assert_eq!(
            st.to_document().unwrap(),
            doc! {"q": {"_id": 1}, "u": [{"$replaceWith": {"$literal": {"_id": 1, "$p": 2}}}],
            "upsert": true, "multi": false}
        );
        assert_eq!(
            delete_statement(&key).to_document().unwrap(),
            doc! {"q": {"_id": 1}, "limit": 1}
        );
        let empty = RawDocumentBuf::new();
        assert!(delta_statements(&key, &empty, &[], &[]).is_empty());
    }
}
