//! A one-collection source: random operations applied with the testbed's update engine, each
//! emitting the change event a server would (insert / replace / update / delete, split events),
//! each at its own cluster time.

use bson::{doc, Bson, Document, Timestamp};
use mongo_testbed::update::{Applied, ApplyMode, UpdateSpec};
use proptest::prelude::*;
use std::collections::BTreeMap;

pub const DB: &str = "ordersDB";
pub const COLL: &str = "orders";

/// Documents by `_id`.
pub type Docs = BTreeMap<i32, Document>;

#[derive(Debug, Clone)]
pub enum SourceOp {
    Insert(i32, Document),
    Replace(i32, Document),
    Delete(i32),
    /// An operator update; `split` makes it a large event delivered in two fragments.
    Update {
        id: i32,
        u: Document,
        split: bool,
    },
    /// Shrinks an array from the end, as `$pop: 1` / `$push {$slice}`: reported in `truncatedArrays`.
    Truncate {
        id: i32,
        path: &'static str,
        size: i32,
    },
}

fn small_value() -> impl Strategy<Value = Bson> {
    prop_oneof![
        (0..4i32).prop_map(Bson::Int32),
        "[a-c]{1,2}".prop_map(Bson::String),
        Just(Bson::Null),
        (0..3i32).prop_map(|v| Bson::Document(doc! { "z": v })),
        prop::collection::vec(0..4i32, 0..3)
            .prop_map(|v| Bson::Array(v.into_iter().map(Bson::Int32).collect())),
    ]
}

fn body() -> impl Strategy<Value = Document> {
    (
        small_value(),
        small_value(),
        prop::collection::vec(0..5i32, 0..4),
        any::<bool>(),
    )
        .prop_map(|(x, b, arr, nested)| {
            let mut d = doc! { "a": { "x": x, "y": { "z": 1 } }, "b": b };
            d.insert("arr", arr.into_iter().map(Bson::Int32).collect::<Vec<_>>());
            if nested {
                d.insert("n", doc! { "arr": [1, 2, 3] });
            }
            d
        })
}

/// `$set` / `$unset` / `$push` / `$inc` of nested fields, array elements, and type changes.
fn operators() -> impl Strategy<Value = Document> {
    let set_path = prop::sample::select(vec![
        "a.x", "a.y.z", "a.y", "a", "b", "arr.1", "arr.4", "n.arr", "c.d",
    ]);
    let unset_path = prop::sample::select(vec!["a.x", "a.y", "b", "arr", "n", "c"]);
    let push_path = prop::sample::select(vec!["arr", "n.arr"]);
    prop_oneof![
        (set_path.clone(), small_value()).prop_map(|(p, v)| doc! { "$set": { p: v } }),
        (set_path, small_value(), unset_path.clone())
            .prop_map(|(p, v, q)| doc! { "$set": { p: v }, "$unset": { q: "" } }),
        unset_path.prop_map(|p| doc! { "$unset": { p: "" } }),
        (push_path, 0..9i32).prop_map(|(p, v)| doc! { "$push": { p: v } }),
        Just(doc! { "$inc": { "a.x": 1 } }),
        // Type changes: a later replay of an older nested `$set` / `$push` meets a scalar.
        Just(doc! { "$set": { "a": 7 } }),
        Just(doc! { "$set": { "arr": 3 } }),
    ]
}

pub fn source_op() -> impl Strategy<Value = SourceOp> {
    let id = 0..2i32;
    prop_oneof![
        2 => (id.clone(), body()).prop_map(|(i, d)| SourceOp::Insert(i, d)),
        1 => (id.clone(), body()).prop_map(|(i, d)| SourceOp::Replace(i, d)),
        1 => id.clone().prop_map(SourceOp::Delete),
        5 => (id.clone(), operators(), prop::bool::weighted(0.1))
            .prop_map(|(id, u, split)| SourceOp::Update { id, u, split }),
        1 => (id, prop::sample::select(vec!["arr", "n.arr"]), 0..3i32)
            .prop_map(|(id, path, size)| SourceOp::Truncate { id, path, size }),
    ]
}

/// Applies `ops` to an empty source; returns the final documents and the events emitted.
pub fn run(ops: &[SourceOp]) -> (Docs, Vec<Document>) {
    let mut docs = Docs::new();
    let mut events = Vec::new();
    let emit = |events: &mut Vec<Document>, op_type: &str, id: i32, extra: Document| {
        let mut e = doc! {
            "_id": { "_data": format!("{:08}", events.len()) },
            "clusterTime": cluster_time(events.len()),
            "operationType": op_type,
            "ns": { "db": DB, "coll": COLL },
            "documentKey": { "_id": id },
        };
        e.extend(extra);
        events.push(e);
    };
    for op in ops {
        match op {
            SourceOp::Insert(id, body) if !docs.contains_key(id) => {
                let full = with_id(*id, body);
                emit(
                    &mut events,
                    "insert",
                    *id,
                    doc! { "fullDocument": full.clone() },
                );
                docs.insert(*id, full);
            }
            SourceOp::Replace(id, body) if docs.contains_key(id) => {
                let full = with_id(*id, body);
                emit(
                    &mut events,
                    "replace",
                    *id,
                    doc! { "fullDocument": full.clone() },
                );
                docs.insert(*id, full);
            }
            SourceOp::Delete(id) if docs.remove(id).is_some() => {
                emit(&mut events, "delete", *id, doc! {})
            }
            SourceOp::Update { id, u, split } => {
                let Some(old) = docs.get(id) else { continue };
                let Some(applied) = apply(u, old) else {
                    continue; // the server would refuse it: no event
                };
                if !applied.changed {
                    continue;
                }
                let d = applied.description;
                let desc = description(d.updated_fields, d.removed_fields, d.truncated_arrays);
                let mut extra = doc! { "updateDescription": desc };
                if *split {
                    extra.insert("splitEvent", doc! { "fragment": 1, "of": 2 });
                }
                emit(&mut events, "update", *id, extra);
                if *split {
                    events.push(doc! {
                        "_id": { "_data": format!("{:08}", events.len()) },
                        "clusterTime": cluster_time(events.len() - 1),
                        "splitEvent": { "fragment": 2, "of": 2 },
                        "fullDocumentBeforeChange": {},
                    });
                }
                docs.insert(*id, applied.doc);
            }
            SourceOp::Truncate { id, path, size } => {
                let Some(old) = docs.get(id) else { continue };
                let shrink = doc! { "$push": { *path: { "$each": [], "$slice": *size } } };
                let Some(applied) = apply(&shrink, old) else {
                    continue;
                };
                let shrinks = old_array_len(old, path).is_some_and(|n| n > *size as usize);
                if !applied.changed || !shrinks {
                    continue;
                }
                let desc = description(doc! {}, vec![], vec![(path.to_string(), *size)]);
                emit(
                    &mut events,
                    "update",
                    *id,
                    doc! { "updateDescription": desc },
                );
                docs.insert(*id, applied.doc);
            }
            _ => {}
        }
    }
    (docs, events)
}

/// The cluster time of the `n`th event (fragments of a split event share it).
fn cluster_time(n: usize) -> Timestamp {
    Timestamp {
        time: 1,
        increment: n as u32 + 1,
    }
}

/// The testbed engine's result, `None` when the server would refuse the update.
fn apply(u: &Document, old: &Document) -> Option<Applied> {
    let spec = UpdateSpec::parse(u).ok()?;
    spec.apply(old, ApplyMode::Update).ok()
}

fn old_array_len(doc: &Document, path: &str) -> Option<usize> {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur.get_document(p).ok()?;
    }
    cur.get_array(parts[parts.len() - 1]).ok().map(Vec::len)
}

fn description(set: Document, unset: Vec<String>, truncated: Vec<(String, i32)>) -> Document {
    let truncated: Vec<Bson> = truncated
        .into_iter()
        .map(|(field, size)| Bson::Document(doc! { "field": field, "newSize": size }))
        .collect();
    doc! { "updatedFields": set, "removedFields": unset, "truncatedArrays": truncated }
}

fn with_id(id: i32, body: &Document) -> Document {
    let mut d = doc! { "_id": id };
    d.extend(body.clone());
    d
}
