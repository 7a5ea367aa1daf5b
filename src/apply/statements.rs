//! The exact shapes of the bulk `update` / `delete` statements a batch sends, built as raw
//! BSON: the key and the document are appended as the bytes they already are.

use bson::{rawdoc, Document, RawArrayBuf, RawDocument, RawDocumentBuf};

/// An empty raw document with room for `bytes` of elements: appending them then copies each
/// once, with no regrowth (a growing buffer copies its content again, and fresh pages cost the
/// kernel a zeroing each). The bytes are the crate's own encoding, as with `RawDocumentBuf::new`.
pub fn with_capacity(bytes: usize) -> RawDocumentBuf {
    let mut empty = Vec::with_capacity(bytes + 5);
    empty.extend_from_slice(&[5, 0, 0, 0, 0]);
    RawDocumentBuf::from_bytes(empty).expect("the empty document")
}

/// Bytes an element named `name` adds besides its value: type byte, name, NUL.
fn element(name: &str) -> usize {
    name.len() + 2
}

/// Replace-one by key with upsert: `{q: key, u: doc, upsert: true, multi: false}`.
///
/// A document with a top-level `$`-prefixed name (legal to insert since MongoDB 5.0) is refused
/// as a replacement (code 52), so it is written by the one-stage pipeline
/// `[{$replaceWith: {$literal: doc}}]` instead: the same document, atomically, in the same
/// ordered statement list (servers 4.2+).
pub fn upsert_statement(key: &RawDocument, doc: &RawDocument) -> RawDocumentBuf {
    // By element: the names alone, no value decoded.
    let dollar = doc
        .iter_elements()
        .any(|e| e.is_ok_and(|e| e.key().starts_with('$')));
    let flags = element("upsert") + 1 + element("multi") + 1;
    let mut st = with_capacity(
        element("q") + key.as_bytes().len() + element("u") + doc.as_bytes().len() + flags,
    );
    st.append_ref("q", key);
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
    let mut st = with_capacity(element("q") + key.as_bytes().len() + element("limit") + 4);
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
    let mut ops = with_capacity(element("$set") + set.as_bytes().len());
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
    let flags = element("upsert") + 1 + element("multi") + 1;
    let mut st = with_capacity(
        element("q") + key.as_bytes().len() + element("u") + u.as_bytes().len() + flags,
    );
    st.append_ref("q", key);
    st.append_ref("u", u);
    st.append("upsert", false);
    st.append("multi", false);
    st
}

/// A bulk write command `{<command>: coll, <field>: [statements], ordered: true,
/// bypassDocumentValidation?: true, writeConcern?: wc}`, written into one buffer of its
/// exact size: each statement's bytes are copied once. The same bytes as the `bson` crate's
/// encoding of that document (a test compares them).
pub fn bulk_command<S: AsRef<RawDocument>>(
    command: &str,
    coll: &str,
    field: &str,
    statements: &[S],
    bypass: bool,
    write_concern: Option<&Document>,
) -> bson::raw::Result<RawDocumentBuf> {
    let wc = write_concern
        .map(RawDocumentBuf::from_document)
        .transpose()?;
    let mut array = 5;
    for (i, st) in statements.iter().enumerate() {
        array += 2 + decimal_len(i) + st.as_ref().as_bytes().len();
    }
    let size = 4
        + element(command)
        + 5
        + coll.len()
        + element(field)
        + array
        + element("ordered")
        + 1
        + if bypass {
            element("bypassDocumentValidation") + 1
        } else {
            0
        }
        + wc.as_ref()
            .map_or(0, |wc| element("writeConcern") + wc.as_bytes().len())
        + 1;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(size as i32).to_le_bytes());
    out.push(0x02);
    cstring(&mut out, command);
    out.extend_from_slice(&((coll.len() + 1) as i32).to_le_bytes());
    cstring(&mut out, coll);
    out.push(0x04);
    cstring(&mut out, field);
    out.extend_from_slice(&(array as i32).to_le_bytes());
    let mut index = String::new();
    for (i, st) in statements.iter().enumerate() {
        use std::fmt::Write as _;
        index.clear();
        let _ = write!(index, "{i}");
        out.push(0x03);
        cstring(&mut out, &index);
        out.extend_from_slice(st.as_ref().as_bytes());
    }
    out.push(0);
    out.push(0x08);
    cstring(&mut out, "ordered");
    out.push(1);
    if bypass {
        out.push(0x08);
        cstring(&mut out, "bypassDocumentValidation");
        out.push(1);
    }
    if let Some(wc) = &wc {
        out.push(0x03);
        cstring(&mut out, "writeConcern");
        out.extend_from_slice(wc.as_bytes());
    }
    out.push(0);
    debug_assert_eq!(out.len(), size);
    RawDocumentBuf::from_bytes(out)
}

/// Digits of `n` in decimal (an array element's name).
fn decimal_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A name's bytes and NUL (the command and field names are constants without one), or a
/// string value's bytes and terminator.
fn cstring(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
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
    use proptest::prelude::*;

    /// The bulk command as it was built before [`bulk_command`]: serialized by the `bson`
    /// crate (statements copied verbatim), the oracle its bytes must equal.
    struct Serialized<'a> {
        command: &'a str,
        coll: &'a str,
        field: &'a str,
        chunk: &'a [RawDocumentBuf],
        bypass: bool,
        write_concern: Option<&'a Document>,
    }

    impl serde::Serialize for Serialized<'_> {
        fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry(self.command, self.coll)?;
            let statements: Vec<&RawDocument> = self.chunk.iter().map(AsRef::as_ref).collect();
            m.serialize_entry(self.field, &statements)?;
            m.serialize_entry("ordered", &true)?;
            if self.bypass {
                m.serialize_entry("bypassDocumentValidation", &true)?;
            }
            if let Some(wc) = self.write_concern {
                m.serialize_entry("writeConcern", wc)?;
            }
            m.end()
        }
    }

    /// The statements as they were built before [`with_capacity`]: from an empty buffer.
    fn grown_upsert(key: &RawDocument, doc: &RawDocument) -> RawDocumentBuf {
        let mut st = RawDocumentBuf::new();
        st.append_ref("q", key);
        st.append_ref("u", doc);
        st.append("upsert", true);
        st.append("multi", false);
        st
    }

    /// A `$set` / `$unset` delta statement encoded from its document form.
    fn encoded_delta(key: &Document, set: &Document, unset: &[String]) -> RawDocumentBuf {
        let mut u = Document::new();
        if !set.is_empty() {
            u.insert("$set", set.clone());
        }
        if !unset.is_empty() {
            let fields: Document = unset.iter().map(|p| (p.clone(), 1.into())).collect();
            u.insert("$unset", fields);
        }
        raw(&doc! {"q": key.clone(), "u": u, "upsert": false, "multi": false})
    }

    /// A small document: names and scalar or nested values.
    fn document() -> impl Strategy<Value = Document> {
        let value = prop_oneof![
            any::<i32>().prop_map(bson::Bson::Int32),
            any::<i64>().prop_map(bson::Bson::Int64),
            "[a-z ]{0,40}".prop_map(bson::Bson::String),
            any::<bool>().prop_map(bson::Bson::Boolean),
        ];
        let leaf = proptest::collection::vec(("[a-z_.$]{1,8}", value), 0..6)
            .prop_map(|fields| fields.into_iter().collect::<Document>());
        (leaf.clone(), proptest::collection::vec(leaf, 0..3)).prop_map(|(mut d, nested)| {
            for (i, n) in nested.into_iter().enumerate() {
                d.insert(format!("n{i}"), n);
            }
            d
        })
    }

    proptest! {
        /// Issue 19: the statements and the bulk command written into buffers of their exact
        /// size are byte for byte what the earlier encoding produced.
        #[test]
        fn presized_statements_and_commands_keep_their_bytes(
            id in any::<i64>(),
            docs in proptest::collection::vec(document(), 1..14),
            unset in proptest::collection::btree_set("[a-z]{1,6}", 0..3)
                .prop_map(|names| names.into_iter().collect::<Vec<_>>()),
            coll in "[a-z.]{1,20}",
            wc in proptest::option::of(1i32..4),
        ) {
            let key_doc = doc! {"_id": id};
            let key = raw(&key_doc);
            let mut statements = Vec::new();
            for doc in &docs {
                let d = raw(doc);
                if !d.iter().any(|e| e.is_ok_and(|(k, _)| k.starts_with('$'))) {
                    let st = upsert_statement(&key, &d);
                    prop_assert_eq!(&st, &grown_upsert(&key, &d));
                    statements.push(st);
                }
                let deltas = delta_statements(&key, &d, &unset, &[]);
                if !d.is_empty() || !unset.is_empty() {
                    prop_assert_eq!(&deltas[0], &encoded_delta(&key_doc, doc, &unset));
                }
                statements.extend(deltas);
            }
            let mut grown_delete = RawDocumentBuf::new();
            grown_delete.append_ref("q", &key);
            grown_delete.append("limit", 1);
            prop_assert_eq!(delete_statement(&key), grown_delete);
            let wc = wc.map(|w| doc! {"w": w, "j": true});
            for (command, field, bypass) in [("update", "updates", true), ("delete", "deletes", false)] {
                let cmd = bulk_command(command, &coll, field, &statements, bypass, wc.as_ref()).unwrap();
                let oracle = Serialized { command, coll: &coll, field, chunk: &statements, bypass, write_concern: wc.as_ref() };
                prop_assert_eq!(cmd.into_bytes(), bson::to_vec(&oracle).unwrap());
            }
        }
    }

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
