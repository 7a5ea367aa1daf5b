//! Today's translation (document trees, before the raw-BSON pipeline) kept as the reference:
//! every write event of the property-test generators, and a few shapes the generators do not
//! make (`$`-prefixed fields, ambiguous paths, shard keys), must give byte-identical bulk
//! statements through the product's raw path, in both update modes.

use super::source::{self, DB};
use bson::{doc, Bson, Document};
use mongo_replicator::apply::batch::BatchBuilder;
use mongo_replicator::config::{DdlConfig, UpdateMode};
use mongo_replicator::source::translate::{read_shared, translate, TranslateOptions, Translated};
use proptest::prelude::*;

/// The statements of one op as the reference makes them: (updates, deletes, fetched keys).
type Statements = (Vec<Document>, Vec<Document>, Vec<Document>);
/// The same, updates and deletes as encoded bytes.
type Encoded = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Document>);

/// The reference translation of a write event in scope (`None`: not a write in scope).
fn reference(event: &Document, mode: UpdateMode) -> Option<Statements> {
    let op_type = event.get_str("operationType").ok()?;
    if !matches!(op_type, "insert" | "replace" | "update" | "delete") {
        return None;
    }
    let ns = event.get_document("ns").ok()?;
    if ns.get_str("db").ok()? != DB || ns.get_str("coll").is_err() {
        return None;
    }
    let split = match event.get_document("splitEvent") {
        Ok(s) => s.get_i32("fragment").ok()?,
        Err(_) => 0,
    };
    if split > 1 {
        return None;
    }
    let key = event.get_document("documentKey").ok()?.clone();
    let full = event.get_document("fullDocument").ok();
    let fetch = Some((vec![], vec![], vec![key.clone()]));
    if split == 1 {
        return fetch;
    }
    match (op_type, mode) {
        ("delete", _) => Some((vec![], vec![doc! {"q": key, "limit": 1}], vec![])),
        ("insert" | "replace", _) | ("update", UpdateMode::FullDocument) => match full {
            Some(d) => Some((vec![upsert_statement(key, d.clone())], vec![], vec![])),
            None => fetch,
        },
        _ => match delta(event) {
            Some((set, unset, truncate)) => Some((
                delta_statements(&key, set, &unset, &truncate),
                vec![],
                vec![],
            )),
            None => fetch,
        },
    }
}

type Delta = (Document, Vec<String>, Vec<(String, i32)>);

/// `updateDescription` as `$set` / `$unset` / truncation; `None`: fetch instead.
fn delta(event: &Document) -> Option<Delta> {
    let desc = event.get_document("updateDescription").ok()?;
    if let Ok(paths) = desc.get_document("disambiguatedPaths") {
        if !paths.is_empty() {
            return None;
        }
    }
    let set = desc
        .get_document("updatedFields")
        .cloned()
        .unwrap_or_default();
    let unset: Vec<String> = desc
        .get_array("removedFields")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let truncate: Vec<(String, i32)> = desc
        .get_array("truncatedArrays")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .map(|t| {
                    let size = match t.get("newSize") {
                        Some(Bson::Int64(n)) => *n as i32,
                        other => other.and_then(Bson::as_i32).unwrap(),
                    };
                    (t.get_str("field").unwrap().to_string(), size)
                })
                .collect()
        })
        .unwrap_or_default();
    let plain = |p: &str| p.split('.').all(|c| !c.is_empty() && !c.starts_with('$'));
    let paths_ok = set.keys().chain(unset.iter()).all(|p| plain(p));
    let values_ok = set.values().all(storable);
    (paths_ok && values_ok && truncate.iter().all(|(p, _)| plain(p)))
        .then_some((set, unset, truncate))
}

fn storable(value: &Bson) -> bool {
    match value {
        Bson::Document(d) => d
            .iter()
            .all(|(k, v)| !k.starts_with('$') && !k.contains('.') && storable(v)),
        Bson::Array(items) => items.iter().all(storable),
        _ => true,
    }
}

fn upsert_statement(key: Document, doc: Document) -> Document {
    let u: Bson = if doc.keys().any(|k| k.starts_with('$')) {
        Bson::Array(vec![doc! { "$replaceWith": { "$literal": doc } }.into()])
    } else {
        doc.into()
    };
    doc! { "q": key, "u": u, "upsert": true, "multi": false }
}

fn delta_statements(
    key: &Document,
    set: Document,
    unset: &[String],
    truncate: &[(String, i32)],
) -> Vec<Document> {
    let only = |u: Document| doc! { "q": key.clone(), "u": u, "upsert": false, "multi": false };
    let mut out = Vec::new();
    if !truncate.is_empty() {
        let mut push = Document::new();
        for (field, size) in truncate {
            push.insert(field.clone(), doc! { "$each": [], "$slice": *size });
        }
        out.push(only(doc! { "$push": push }));
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
        out.push(only(ops));
    }
    out
}

/// The product's statements for `event` alone: translate, then one batch of that op.
fn product(event: &Document, mode: UpdateMode) -> Option<Encoded> {
    let opts = TranslateOptions {
        scope: std::sync::Arc::new(mongo_replicator::source::namespaces::Scope::shorthand(
            DB, None, "target",
        )),
        update_mode: mode,
        ddl: DdlConfig::default(),
    };
    // The stream's path: the event's bytes, its documents viewed in place.
    let bytes = bytes::Bytes::from(bson::to_vec(event).expect("encodes"));
    let shared = read_shared(&bytes, &opts)
        .expect("well-formed event")
        .translated;
    let copied = translate(event, &opts).expect("well-formed event");
    assert_eq!(
        shared, copied,
        "the shared and copied reads agree on {event}"
    );
    let Translated::Write(op) = shared else {
        return None;
    };
    let mut builder = BatchBuilder::new();
    builder.push(op);
    let mut plan = builder.take_plan();
    let (_, cp) = plan.collections.pop_first().expect("one collection");
    let bytes = |v: Vec<bson::RawDocumentBuf>| v.into_iter().map(|d| d.into_bytes()).collect();
    Some((bytes(cp.updates), bytes(cp.deletes), cp.fetches))
}

fn assert_same(event: &Document, mode: UpdateMode) -> Result<(), TestCaseError> {
    let expected = reference(event, mode).map(|(u, d, f)| {
        let bytes = |v: Vec<Document>| v.iter().map(|d| bson::to_vec(d).unwrap()).collect();
        (bytes(u), bytes(d), f)
    });
    prop_assert_eq!(product(event, mode), expected, "event {}", event);
    Ok(())
}

/// Shapes the generators do not make.
fn extra_events() -> Vec<Document> {
    let ev = |op: &str, extra: Document| {
        let mut e = doc! {
            "_id": {"_data": "00"}, "operationType": op,
            "ns": {"db": DB, "coll": "orders"}, "documentKey": {"_id": 1, "shard": "x"},
        };
        e.extend(extra);
        e
    };
    let desc = |d: Document| ev("update", doc! {"updateDescription": d});
    vec![
        ev(
            "insert",
            doc! {"fullDocument": {"_id": 1, "$price": 2, "a": {"b": [1, {"c": 2}]}}},
        ),
        ev(
            "replace",
            doc! {"fullDocument": {"_id": 1, "x": Bson::Null}},
        ),
        ev("insert", doc! {}),
        ev("delete", doc! {}),
        desc(doc! {"updatedFields": {}, "removedFields": [], "truncatedArrays": []}),
        desc(
            doc! {"updatedFields": {"a.b": 1, "c": [1, 2]}, "removedFields": ["d", "e.f"],
            "truncatedArrays": [{"field": "g", "newSize": 2}, {"field": "h.i", "newSize": 0}]},
        ),
        desc(doc! {"updatedFields": {"a": {"$x": 1}}}),
        desc(doc! {"updatedFields": {"a": {"b.c": 1}}}),
        desc(doc! {"updatedFields": {"a..b": 1}}),
        desc(doc! {"removedFields": ["$a"]}),
        desc(doc! {"updatedFields": {"a.0": 1}, "disambiguatedPaths": {"a.0": ["a", "0"]}}),
        desc(doc! {"updatedFields": {"a.0": 1}, "disambiguatedPaths": {}}),
        desc(doc! {"truncatedArrays": [{"field": "a", "newSize": 3i64}]}),
        ev(
            "update",
            doc! {"updateDescription": {"updatedFields": {"a": 1}},
            "fullDocument": {"_id": 1, "a": 1}},
        ),
        ev(
            "update",
            doc! {"updateDescription": {"updatedFields": {"a": 1}}},
        ),
        ev(
            "update",
            doc! {"splitEvent": {"fragment": 1, "of": 2}, "fullDocument": {"_id": 1}},
        ),
    ]
}

#[test]
fn shapes_outside_the_generators_give_todays_statements() {
    for event in extra_events() {
        for mode in [UpdateMode::Delta, UpdateMode::FullDocument] {
            assert_same(&event, mode).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(super::config(300))]

    #[test]
    fn raw_translation_gives_todays_statements_byte_for_byte(
        ops in prop::collection::vec(source::source_op(), 1..40),
    ) {
        let (_, events) = source::run(&ops);
        for event in &events {
            assert_same(event, UpdateMode::Delta)?;
            assert_same(event, UpdateMode::FullDocument)?;
        }
    }
}
