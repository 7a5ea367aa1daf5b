use super::*;
use crate::source::translate::body;
use bson::doc;

/// Statements decoded, to compare with `doc!` literals.
fn docs(statements: &[RawDocumentBuf]) -> Vec<Document> {
    statements
        .iter()
        .map(|s| s.to_document().unwrap())
        .collect()
}

fn op(coll: &str, id: i32, kind: WriteKind) -> WriteOp {
    WriteOp {
        coll: coll.into(),
        key: doc! { "_id": id }.into(),
        kind,
    }
}

fn delta(set: Document) -> WriteKind {
    WriteKind::Delta {
        set: body(&set),
        unset: vec![],
        truncate: vec![],
    }
}

#[test]
fn later_upsert_delete_or_fetch_supersedes_earlier_ops() {
    let mut b = BatchBuilder::new();
    b.push(op("c", 1, WriteKind::upsert(doc! { "_id": 1, "v": 1 })));
    b.push(op("c", 1, delta(doc! { "v": 2 })));
    b.push(op("c", 1, WriteKind::Delete));
    b.push(op("c", 2, WriteKind::Delete));
    b.push(op("c", 2, WriteKind::Fetch));
    b.push(op("c", 3, delta(doc! { "v": 3 })));
    b.push(op("c", 3, WriteKind::upsert(doc! { "_id": 3, "v": 4 })));
    assert_eq!(b.len(), 7);
    let plan = b.take_plan();
    let c = &plan.collections["c"];
    assert_eq!(
        docs(&c.deletes),
        vec![doc! { "q": { "_id": 1 }, "limit": 1 }]
    );
    assert_eq!(c.fetches, vec![doc! { "_id": 2 }]);
    assert_eq!(
        docs(&c.updates),
        vec![doc! { "q": { "_id": 3 }, "u": { "_id": 3, "v": 4 }, "upsert": true, "multi": false }]
    );
    assert_eq!((plan.ops_in, plan.statements_out), (7, 3));
    assert!(b.is_empty());
    assert_eq!(b.bytes(), 0);
}

#[test]
fn deltas_after_a_delete_are_dropped_and_after_upserts_kept_in_order() {
    let mut b = BatchBuilder::new();
    b.push(op("c", 1, WriteKind::Delete));
    b.push(op("c", 1, delta(doc! { "v": 1 })));
    b.push(op("c", 2, WriteKind::upsert(doc! { "_id": 2 })));
    b.push(op("c", 3, delta(doc! { "w": 0 })));
    b.push(op("c", 2, delta(doc! { "v": 1 })));
    b.push(op("c", 2, delta(doc! { "v": 2 })));
    let c = b.take_plan().collections.remove("c").unwrap();
    assert_eq!(c.deletes.len(), 1);
    let sets: Vec<_> = docs(&c.updates)
        .iter()
        .map(|s| {
            (
                s.get_document("q").unwrap().clone(),
                s.get_document("u").unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(
        sets,
        vec![
            (doc! { "_id": 2 }, doc! { "_id": 2 }),
            (doc! { "_id": 3 }, doc! { "$set": { "w": 0 } }),
            (doc! { "_id": 2 }, doc! { "$set": { "v": 1 } }),
            (doc! { "_id": 2 }, doc! { "$set": { "v": 2 } }),
        ]
    );
}

#[test]
fn delta_becomes_truncate_then_set_unset() {
    let mut b = BatchBuilder::new();
    b.push(op(
        "c",
        1,
        WriteKind::Delta {
            set: body(&doc! { "a.b": 1 }),
            unset: vec!["x".into(), "y.z".into()],
            truncate: vec![("arr".into(), 2)],
        },
    ));
    b.push(op(
        "c",
        2,
        WriteKind::Delta {
            set: body(&doc! {}),
            unset: vec!["x".into()],
            truncate: vec![],
        },
    ));
    let c = b.take_plan().collections.remove("c").unwrap();
    assert_eq!(
        docs(&c.updates),
        vec![
            doc! { "q": { "_id": 1 }, "u": { "$push": { "arr": { "$each": [], "$slice": 2 } } }, "upsert": false, "multi": false },
            doc! { "q": { "_id": 1 }, "u": { "$set": { "a.b": 1 }, "$unset": { "x": 1, "y.z": 1 } }, "upsert": false, "multi": false },
            doc! { "q": { "_id": 2 }, "u": { "$unset": { "x": 1 } }, "upsert": false, "multi": false },
        ]
    );
}

#[test]
fn keys_are_exact_documents_per_collection() {
    let mut b = BatchBuilder::new();
    b.push(op("a", 1, WriteKind::Delete));
    b.push(op("b", 1, WriteKind::Delete));
    b.push(WriteOp {
        coll: "a".into(),
        key: doc! { "_id": 1i64 }.into(),
        kind: WriteKind::Delete,
    });
    b.push(WriteOp {
        coll: "a".into(),
        key: doc! { "_id": 1, "sk": 2 }.into(),
        kind: WriteKind::Delete,
    });
    let plan = b.take_plan();
    assert_eq!(plan.collections["a"].deletes.len(), 3);
    assert_eq!(plan.collections["b"].deletes.len(), 1);
}

#[test]
fn bytes_track_held_documents() {
    let mut b = BatchBuilder::new();
    b.push(op(
        "c",
        1,
        WriteKind::upsert(doc! { "_id": 1, "s": "x".repeat(1000) }),
    ));
    assert!(b.bytes() > 1000);
    b.push(op("c", 1, WriteKind::Delete));
    assert!(b.bytes() < 100, "superseded upsert no longer counted");
}

#[test]
fn upsert_of_a_document_with_a_top_level_dollar_name_is_a_literal_pipeline() {
    let plain = doc! {"_id": 1, "a": {"$x": 1}, "b.c": 2};
    let st =
        |key: Document, d: &Document| upsert_statement(&raw(&key), &raw(d)).to_document().unwrap();
    assert_eq!(
        st(doc! {"_id": 1}, &plain),
        doc! {"q": {"_id": 1}, "u": plain, "upsert": true, "multi": false}
    );
    let dollar = doc! {"_id": 2, "$x": 1, "a": 2};
    assert_eq!(
        st(doc! {"_id": 2}, &dollar),
        doc! {"q": {"_id": 2}, "u": [{"$replaceWith": {"$literal": dollar}}], "upsert": true, "multi": false}
    );
}
