use super::*;
use bson::{bson, doc};

fn apply(u: Document, d: Document) -> CmdResult<Applied> {
    UpdateSpec::parse(&u)?.apply(&d, ApplyMode::Update)
}

fn ok(u: Document, d: Document) -> Document {
    apply(u, d).unwrap().doc
}

#[test]
fn parse_distinguishes_replacement_operators_and_errors() {
    assert!(UpdateSpec::parse(&doc! {}).unwrap().is_replacement());
    assert!(UpdateSpec::parse(&doc! {"a": 1}).unwrap().is_replacement());
    assert!(!UpdateSpec::parse(&doc! {"$set": {"a": 1}})
        .unwrap()
        .is_replacement());
    assert_eq!(
        UpdateSpec::parse(&doc! {"$set": {"a": 1}, "b": 2})
            .unwrap_err()
            .code,
        9
    );
    assert_eq!(
        UpdateSpec::parse(&doc! {"a": 1, "$set": {"b": 2}})
            .unwrap_err()
            .code,
        52
    );
    assert_eq!(
        UpdateSpec::parse(&doc! {"$foo": {"a": 1}})
            .unwrap_err()
            .code,
        9
    );
    assert_eq!(UpdateSpec::parse(&doc! {"$set": 1}).unwrap_err().code, 9);
    assert_eq!(
        UpdateSpec::parse(&doc! {"$set": {"a": 1}, "$inc": {"a.b": 1}})
            .unwrap_err()
            .code,
        40
    );
    assert_eq!(
        UpdateSpec::parse(&doc! {"$set": {"a": 1}, "$unset": {"a": 1}})
            .unwrap_err()
            .code,
        40
    );
    assert!(UpdateSpec::parse(&doc! {"$set": {"a": 1, "ab": 1}}).is_ok());
}

#[test]
fn replacement_keeps_id_first_and_rejects_a_new_id() {
    let old = doc! {"_id": 1, "a": 1};
    assert_eq!(ok(doc! {"b": 2}, old.clone()), doc! {"_id": 1, "b": 2});
    assert_eq!(
        ok(doc! {"b": 2, "_id": 1}, old.clone())
            .keys()
            .next()
            .unwrap(),
        "_id"
    );
    assert_eq!(
        apply(doc! {"_id": 2, "b": 2}, old.clone())
            .unwrap_err()
            .code,
        66
    );
    let a = apply(doc! {"a": 1}, old).unwrap();
    assert!(!a.changed);
}

#[test]
fn set_appends_new_fields_in_path_order_and_updates_in_place() {
    let d = ok(
        doc! {"$set": {"z": 1, "b": 2, "a": 3}},
        doc! {"_id": 1, "b": 0},
    );
    assert!(compare::documents_identical(
        &d,
        &doc! {"_id": 1, "b": 2, "a": 3, "z": 1}
    ));
    let d = ok(
        doc! {"$set": {"x.y.z": 1, "arr.4": 5}},
        doc! {"_id": 1, "arr": [1]},
    );
    assert_eq!(
        d,
        doc! {"_id": 1, "arr": [1, null, null, null, 5], "x": {"y": {"z": 1}}}
    );
}

use crate::compare;

#[test]
fn errors_match_mongod_codes() {
    assert_eq!(
        apply(doc! {"$inc": {"a": 1}}, doc! {"_id": 1, "a": "s"})
            .unwrap_err()
            .code,
        14
    );
    assert_eq!(
        apply(doc! {"$inc": {"a": "x"}}, doc! {"_id": 1})
            .unwrap_err()
            .code,
        14
    );
    assert_eq!(
        apply(doc! {"$set": {"a.b": 1}}, doc! {"_id": 1, "a": 5})
            .unwrap_err()
            .code,
        28
    );
    assert_eq!(
        apply(doc! {"$set": {"_id": 2}}, doc! {"_id": 1})
            .unwrap_err()
            .code,
        66
    );
    assert_eq!(
        apply(doc! {"$unset": {"_id": 1}}, doc! {"_id": 1})
            .unwrap_err()
            .code,
        66
    );
    assert!(apply(doc! {"$set": {"_id": 1}}, doc! {"_id": 1}).is_ok());
    assert_eq!(
        apply(doc! {"$push": {"a": 1}}, doc! {"_id": 1, "a": 1})
            .unwrap_err()
            .code,
        2
    );
    assert_eq!(
        apply(doc! {"$pop": {"a": 1}}, doc! {"_id": 1, "a": 1})
            .unwrap_err()
            .code,
        14
    );
}

#[test]
fn arithmetic_min_max_current_date() {
    let d = ok(
        doc! {"$inc": {"i": 2, "new": 5}, "$mul": {"m": 3, "z": 2.0}, "$min": {"lo": 1}, "$max": {"hi": 1}},
        doc! {"_id": 1, "i": 1, "m": 2, "lo": 5, "hi": 5},
    );
    assert_eq!(
        d,
        doc! {"_id": 1, "i": 3, "m": 6, "lo": 1, "hi": 5, "new": 5, "z": 0.0}
    );
    let d = ok(
        doc! {"$currentDate": {"d": true, "t": {"$type": "timestamp"}}},
        doc! {"_id": 1},
    );
    assert!(matches!(d.get("d"), Some(Bson::DateTime(_))));
    assert!(matches!(d.get("t"), Some(Bson::Timestamp(_))));
}

#[test]
fn rename_moves_value_and_reports_both_sides() {
    let a = apply(
        doc! {"$rename": {"a": "b.c"}},
        doc! {"_id": 1, "a": 7, "x": 1},
    )
    .unwrap();
    assert_eq!(a.doc, doc! {"_id": 1, "x": 1, "b": {"c": 7}});
    assert_eq!(a.description.removed_fields, vec!["a".to_string()]);
    assert_eq!(a.description.updated_fields, doc! {"b": {"c": 7}});
    assert!(
        !apply(doc! {"$rename": {"nope": "b"}}, doc! {"_id": 1})
            .unwrap()
            .changed
    );
}

#[test]
fn push_and_add_to_set_report_appended_elements() {
    let a = apply(
        doc! {"$push": {"arr": {"$each": [3, 4]}}},
        doc! {"_id": 1, "arr": [1, 2]},
    )
    .unwrap();
    assert_eq!(a.doc, doc! {"_id": 1, "arr": [1, 2, 3, 4]});
    assert_eq!(a.description.updated_fields, doc! {"arr.2": 3, "arr.3": 4});
    let a = apply(
        doc! {"$addToSet": {"arr": {"$each": [2, 5, 5]}}},
        doc! {"_id": 1, "arr": [1, 2]},
    )
    .unwrap();
    assert_eq!(a.doc, doc! {"_id": 1, "arr": [1, 2, 5]});
    assert_eq!(a.description.updated_fields, doc! {"arr.2": 5});
    assert!(
        !apply(
            doc! {"$addToSet": {"arr": 1.0}},
            doc! {"_id": 1, "arr": [1]}
        )
        .unwrap()
        .changed
    );
}

#[test]
fn push_modifiers_position_sort_slice() {
    let d = ok(
        doc! {"$push": {"a": {"$each": [0], "$position": 0}}},
        doc! {"_id": 1, "a": [1, 2]},
    );
    assert_eq!(
        d.get_array("a").unwrap(),
        &vec![bson!(0), bson!(1), bson!(2)]
    );
    let a = apply(
        doc! {"$push": {"a": {"$each": [5, 0], "$sort": -1, "$slice": 2}}},
        doc! {"_id": 1, "a": [3, 1]},
    )
    .unwrap();
    assert_eq!(a.doc.get_array("a").unwrap(), &vec![bson!(5), bson!(3)]);
    assert_eq!(a.description.updated_fields, doc! {"a": [5, 3]});
    let d = ok(
        doc! {"$push": {"a": {"$each": [{"s": 2}, {"s": 1}], "$sort": {"s": 1}, "$slice": -1}}},
        doc! {"_id": 1},
    );
    assert_eq!(d, doc! {"_id": 1, "a": [{"s": 2}]});
}

#[test]
fn pull_pop_pull_all_report_the_whole_array() {
    let a = apply(
        doc! {"$pull": {"a": {"$gte": 3}}},
        doc! {"_id": 1, "a": [1, 3, 5, 2]},
    )
    .unwrap();
    assert_eq!(a.doc, doc! {"_id": 1, "a": [1, 2]});
    assert_eq!(a.description.updated_fields, doc! {"a": [1, 2]});
    assert!(a.description.truncated_arrays.is_empty());
    let d = ok(
        doc! {"$pull": {"a": {"k": 1}}},
        doc! {"_id": 1, "a": [{"k": 1, "v": 1}, {"k": 2}]},
    );
    assert_eq!(d, doc! {"_id": 1, "a": [{"k": 2}]});
    let d = ok(
        doc! {"$pull": {"a": "x"}, "$pop": {"b": -1}, "$pullAll": {"c": [1, 2]}},
        doc! {"_id": 1, "a": ["x", "y", "x"], "b": [1, 2], "c": [1, 2, 3, 1]},
    );
    assert_eq!(d, doc! {"_id": 1, "a": ["y"], "b": [2], "c": [3]});
    assert!(
        !apply(doc! {"$pop": {"missing": 1}}, doc! {"_id": 1})
            .unwrap()
            .changed
    );
}

#[test]
fn unset_on_array_element_nulls_it() {
    let a = apply(
        doc! {"$unset": {"a.1": "", "b": ""}},
        doc! {"_id": 1, "a": [1, 2], "b": 1},
    )
    .unwrap();
    assert_eq!(a.doc, doc! {"_id": 1, "a": [1, null]});
    assert_eq!(a.description.updated_fields, doc! {"a.1": null});
    assert_eq!(a.description.removed_fields, vec!["b".to_string()]);
}

#[test]
fn no_op_updates_are_unchanged_with_empty_description() {
    let old = doc! {"_id": 1, "a": 1, "b": {"c": 2}};
    let a = apply(
        doc! {"$set": {"b.c": 2}, "$unset": {"zz": ""}, "$inc": {"a": 0}},
        old.clone(),
    )
    .unwrap();
    assert!(!a.changed);
    assert_eq!(a.description, UpdateDescription::default());
    // Binary comparison: 1 -> 1.0 is a change, as on mongod.
    assert!(apply(doc! {"$set": {"a": 1.0}}, old).unwrap().changed);
}

#[test]
fn set_on_insert_applies_only_on_upsert_insert() {
    let spec = UpdateSpec::parse(&doc! {"$setOnInsert": {"n": 1}, "$set": {"_id": 9}}).unwrap();
    let a = spec.apply(&doc! {"_id": 9}, ApplyMode::Update).unwrap();
    assert!(!a.changed);
    let spec = UpdateSpec::parse(&doc! {"$setOnInsert": {"n": 1}, "$set": {"m": 2}}).unwrap();
    let a = spec
        .apply(&doc! {"x": 1, "_id": 3}, ApplyMode::UpsertInsert)
        .unwrap();
    assert_eq!(a.doc.keys().next().unwrap(), "_id");
    assert_eq!(a.doc, doc! {"_id": 3, "x": 1, "m": 2, "n": 1});
}

#[test]
fn upsert_seed_takes_equalities() {
    let seed = upsert_seed(
        &doc! {"a": 1, "b.c": {"$eq": 2}, "n": {"$gt": 1}, "$and": [{"d": "x"}], "_id": 5},
    )
    .unwrap();
    assert!(compare::documents_identical(
        &seed,
        &doc! {"_id": 5, "a": 1, "b": {"c": 2}, "d": "x"}
    ));
    assert_eq!(
        upsert_seed(&doc! {"r": {"$regex": "x"}, "i": {"$in": [4]}}).unwrap(),
        doc! {"i": 4}
    );
    assert_eq!(upsert_seed(&doc! {"a": 1, "a.b": 2}).unwrap_err().code, 54);
}

#[test]
fn top_level_dollar_fields_are_refused_on_existing_documents_only() {
    let d = doc! {"_id": 1, "$x": 1, "a": {"$b": 1}, "$o": {"k": 1}};
    for u in [
        doc! {"$set": {"$x": 2}},
        doc! {"$inc": {"$x": 1}},
        doc! {"$set": {"$new": 1}},
        doc! {"$set": {"$new.y": 1}},
        doc! {"$rename": {"a": "$r"}},
        doc! {"$push": {"$arr": 1}},
    ] {
        let e = apply(u.clone(), d.clone()).unwrap_err();
        assert_eq!(
            (e.code, e.code_name.as_str()),
            (52, "DollarPrefixedFieldName"),
            "{u}"
        );
        assert!(
            e.errmsg.starts_with("The dollar ($) prefixed field '$"),
            "{}",
            e.errmsg
        );
    }
    // Below the top level `$` names are fine, as is removing one or a subfield of an existing one.
    assert_eq!(
        ok(doc! {"$set": {"a.$b": 2, "a.$c": 3}}, d.clone()),
        doc! {"_id": 1, "$x": 1, "a": {"$b": 2, "$c": 3}, "$o": {"k": 1}}
    );
    assert_eq!(
        ok(doc! {"$set": {"$o.k": 2}, "$unset": {"$x": ""}}, d.clone()),
        doc! {"_id": 1, "a": {"$b": 1}, "$o": {"k": 2}}
    );
    // An upsert's insert may create them (it is validated as an insert).
    let seeded = UpdateSpec::parse(&doc! {"$set": {"$h": 1}})
        .unwrap()
        .apply(&doc! {"_id": 2}, ApplyMode::UpsertInsert)
        .unwrap();
    assert_eq!(seeded.doc, doc! {"_id": 2, "$h": 1});
}
