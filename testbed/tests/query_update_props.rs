//! The contract the replicator depends on: replaying an update's `updateDescription` on the
//! old document (truncate arrays, then `$unset` removedFields, then `$set` updatedFields)
//! rebuilds exactly the new document, field order included.
#![allow(clippy::result_large_err)] // CmdError is large by design (it is the wire reply)

use bson::{doc, Bson, Document};
use mongo_testbed::compare::documents_identical;
use mongo_testbed::update::{ApplyMode, UpdateDescription, UpdateSpec};
use proptest::prelude::*;

const NAMES: &[&str] = &["a", "b", "c", "0", "1", "3"];

fn leaf() -> impl Strategy<Value = Bson> {
    prop_oneof![
        (-3i32..4).prop_map(Bson::Int32),
        (-2i64..3).prop_map(Bson::Int64),
        prop_oneof![Just(0.5f64), Just(2.0), Just(-1.0)].prop_map(Bson::Double),
        "[xy]{0,2}".prop_map(Bson::String),
        Just(Bson::Null),
        any::<bool>().prop_map(Bson::Boolean),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..4).prop_map(|kvs| {
                let mut d = Document::new();
                for (k, v) in kvs {
                    d.insert(k, v);
                }
                Bson::Document(d)
            }),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    prop::collection::vec((prop::sample::select(&NAMES[..3]), value()), 0..5).prop_map(|kvs| {
        let mut d = doc! {"_id": 1};
        for (k, v) in kvs {
            d.insert(k, v);
        }
        d
    })
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&NAMES[..3]),
        prop::collection::vec(prop::sample::select(NAMES), 0..3),
    )
        .prop_map(|(first, rest)| {
            std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join(".")
        })
}

fn operator() -> impl Strategy<Value = (&'static str, Bson)> {
    let num = || {
        prop_oneof![
            (-2i32..3).prop_map(Bson::Int32),
            Just(Bson::Double(1.5)),
            Just(Bson::Int64(2))
        ]
    };
    prop_oneof![
        1 => value().prop_map(|v| ("$set", v)),
        4 => Just(("$unset", Bson::String(String::new()))),
        1 => num().prop_map(|v| ("$inc", v)),
        1 => num().prop_map(|v| ("$mul", v)),
        1 => leaf().prop_map(|v| ("$min", v)),
        1 => leaf().prop_map(|v| ("$max", v)),
        2 => path().prop_map(|p| ("$rename", Bson::String(p))),
        1 => value().prop_map(|v| ("$push", v)),
        1 => (prop::collection::vec(leaf(), 0..3), prop::option::of(-3i32..4), prop::option::of(-2i32..3), prop::option::of(prop_oneof![Just(1), Just(-1)]))
            .prop_map(|(each, slice, position, sort)| {
                let mut d = doc! {"$each": each};
                if let Some(s) = slice { d.insert("$slice", s); }
                if let Some(p) = position { d.insert("$position", p); }
                if let Some(s) = sort { d.insert("$sort", s); }
                ("$push", Bson::Document(d))
            }),
        1 => leaf().prop_map(|v| ("$addToSet", v)),
        1 => prop::collection::vec(leaf(), 0..3).prop_map(|each| ("$addToSet", Bson::Document(doc! {"$each": each}))),
        1 => prop_oneof![Just(1), Just(-1)].prop_map(|v| ("$pop", Bson::Int32(v))),
        1 => leaf().prop_map(|v| ("$pull", v)),
        1 => Just(("$pull", Bson::Document(doc! {"$gte": 1}))),
        1 => prop::collection::vec(leaf(), 0..3).prop_map(|vs| ("$pullAll", Bson::Array(vs))),
        1 => value().prop_map(|v| ("$setOnInsert", v)),
    ]
}

fn update() -> impl Strategy<Value = Document> {
    prop::collection::vec((path(), operator()), 1..5).prop_map(|ops| {
        let mut u = Document::new();
        for (p, (op, arg)) in ops {
            let entry = u
                .entry(op.to_string())
                .or_insert_with(|| Bson::Document(Document::new()));
            if let Bson::Document(d) = entry {
                d.insert(p, arg);
            }
        }
        u
    })
}

/// What the replicator does with an update event: truncate, `$unset`, then `$set`.
fn replay(old: &Document, d: &UpdateDescription) -> Document {
    let mut doc = old.clone();
    for (field, size) in &d.truncated_arrays {
        let parts: Vec<&str> = field.split('.').collect();
        if let Some(Bson::Array(a)) = mongo_testbed::path::get_path_mut(&mut doc, &parts) {
            a.truncate(*size as usize);
        }
    }
    if !d.removed_fields.is_empty() {
        let mut unset = Document::new();
        for f in &d.removed_fields {
            unset.insert(f.clone(), "");
        }
        let spec = UpdateSpec::parse(&doc! {"$unset": unset}).unwrap();
        doc = spec.apply(&doc, ApplyMode::Update).unwrap().doc;
    }
    if !d.updated_fields.is_empty() {
        let spec = UpdateSpec::parse(&doc! {"$set": d.updated_fields.clone()}).unwrap();
        doc = spec.apply(&doc, ApplyMode::Update).unwrap().doc;
    }
    doc
}

proptest! {
    #![proptest_config(crate::proptest_config(3000))]

    #[test]
    fn update_description_replays_to_the_new_document(old in document(), u in update()) {
        let Ok(spec) = UpdateSpec::parse(&u) else { return Ok(()) };
        let Ok(applied) = spec.apply(&old, ApplyMode::Update) else { return Ok(()) };
        let replayed = replay(&old, &applied.description);
        prop_assert!(
            documents_identical(&replayed, &applied.doc),
            "update {u}\nold      {old}\nnew      {}\nreplayed {replayed}\ndesc {:?}",
            applied.doc,
            applied.description
        );
        prop_assert_eq!(applied.changed, !documents_identical(&old, &applied.doc));
        if !applied.changed {
            prop_assert_eq!(applied.description, UpdateDescription::default());
        }
    }
}

/// Guards the generator: a good share of random updates must succeed, or the property is vacuous.
#[test]
fn generator_produces_mostly_applicable_updates() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut changed, mut dotted, mut removed) = (0, 0, 0, 0);
    for _ in 0..500 {
        let old = document().new_tree(&mut runner).unwrap().current();
        let u = update().new_tree(&mut runner).unwrap().current();
        if let Ok(a) = UpdateSpec::parse(&u).and_then(|s| s.apply(&old, ApplyMode::Update)) {
            ok += 1;
            changed += a.changed as i32;
            dotted += a.description.updated_fields.keys().any(|k| k.contains('.')) as i32;
            removed += !a.description.removed_fields.is_empty() as i32;
        }
    }
    assert!(
        ok > 150 && changed > 100 && dotted > 20 && removed > 8,
        "of 500: {ok} applicable, {changed} changed, {dotted} dotted, {removed} with removals"
    );
}
