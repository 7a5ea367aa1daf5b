use super::Matcher;
use bson::{doc, Bson, Document};

fn m(filter: Document, d: Document) -> bool {
    Matcher::new(&filter).unwrap().matches(&d)
}

#[test]
fn implicit_equality_with_array_contains_and_whole_array() {
    let d = doc! {"tags": ["x", "y"], "n": 1, "sub": {"a": 1, "b": 2}};
    assert!(m(doc! {"tags": "x"}, d.clone()));
    assert!(!m(doc! {"tags": "z"}, d.clone()));
    assert!(m(doc! {"tags": ["x", "y"]}, d.clone()));
    assert!(!m(doc! {"tags": ["y", "x"]}, d.clone()));
    assert!(m(doc! {"n": 1.0}, d.clone()));
    assert!(m(doc! {"sub": {"a": 1, "b": 2}}, d.clone()));
    assert!(!m(doc! {"sub": {"b": 2, "a": 1}}, d));
}

#[test]
fn dotted_paths_traverse_arrays_of_documents() {
    let d = doc! {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}], "arr": [10, 20]};
    assert!(m(doc! {"items.sku": "b"}, d.clone()));
    assert!(m(doc! {"items.qty": {"$gt": 4}}, d.clone()));
    assert!(m(doc! {"items.1.sku": "b"}, d.clone()));
    assert!(!m(doc! {"items.0.sku": "b"}, d.clone()));
    assert!(m(doc! {"arr.1": 20}, d));
}

#[test]
fn null_matches_missing_and_ne_null_requires_presence() {
    let d = doc! {"a": 1, "n": null};
    assert!(m(doc! {"b": null}, d.clone()));
    assert!(m(doc! {"n": null}, d.clone()));
    assert!(!m(doc! {"a": null}, d.clone()));
    assert!(m(doc! {"a": {"$ne": null}}, d.clone()));
    assert!(!m(doc! {"b": {"$ne": null}}, d.clone()));
    assert!(m(doc! {"b": {"$exists": false}}, d.clone()));
    assert!(m(doc! {"n": {"$exists": true}}, d));
}

#[test]
fn comparisons_are_type_bracketed() {
    let d = doc! {"a": 5, "s": "abc"};
    assert!(m(doc! {"a": {"$gt": 4, "$lte": 5}}, d.clone()));
    assert!(!m(doc! {"a": {"$gt": "4"}}, d.clone()));
    assert!(m(doc! {"s": {"$gte": "abb"}}, d.clone()));
    assert!(!m(doc! {"s": {"$gte": 1}}, d.clone()));
    assert!(m(doc! {"a": {"$lt": Bson::MaxKey}}, d));
}

#[test]
fn in_nin_all_size_elem_match() {
    let d = doc! {"a": [1, 2, 3], "docs": [{"x": 1, "y": 2}, {"x": 2, "y": 1}]};
    assert!(m(doc! {"a": {"$in": [5, 3]}}, d.clone()));
    assert!(!m(doc! {"a": {"$nin": [5, 3]}}, d.clone()));
    assert!(m(doc! {"b": {"$nin": [5, 3]}}, d.clone()));
    assert!(m(doc! {"b": {"$in": [null]}}, d.clone()));
    assert!(m(doc! {"a": {"$all": [3, 1]}}, d.clone()));
    assert!(!m(doc! {"a": {"$all": [3, 4]}}, d.clone()));
    assert!(!m(doc! {"a": {"$all": []}}, d.clone()));
    assert!(m(doc! {"a": {"$size": 3}}, d.clone()));
    assert!(!m(doc! {"a": {"$size": 2}}, d.clone()));
    assert!(m(
        doc! {"a": {"$elemMatch": {"$gt": 2, "$lt": 4}}},
        d.clone()
    ));
    assert!(!m(doc! {"a": {"$elemMatch": {"$gt": 3}}}, d.clone()));
    assert!(m(
        doc! {"docs": {"$elemMatch": {"x": 1, "y": 2}}},
        d.clone()
    ));
    assert!(!m(
        doc! {"docs": {"$elemMatch": {"x": 1, "y": 1}}},
        d.clone()
    ));
    // Without $elemMatch the conditions may hold on different elements.
    assert!(m(doc! {"docs.x": 1, "docs.y": 1}, d));
}

#[test]
fn logical_operators_and_not() {
    let d = doc! {"a": 1, "b": 2};
    assert!(m(doc! {"$or": [{"a": 2}, {"b": 2}]}, d.clone()));
    assert!(!m(doc! {"$and": [{"a": 1}, {"b": 3}]}, d.clone()));
    assert!(m(doc! {"$nor": [{"a": 2}, {"b": 3}]}, d.clone()));
    assert!(m(doc! {"a": {"$not": {"$gt": 1}}}, d.clone()));
    assert!(!m(doc! {"a": {"$not": {"$gte": 1}}}, d.clone()));
    assert!(m(doc! {"c": {"$not": {"$gt": 1}}}, d));
}

#[test]
fn type_regex_mod() {
    let d = doc! {"i": 3, "l": 4i64, "d": 1.5, "s": "Hello", "arr": [1, "x"]};
    assert!(m(doc! {"i": {"$type": "int"}}, d.clone()));
    assert!(m(doc! {"i": {"$type": 16}}, d.clone()));
    assert!(m(doc! {"l": {"$type": "number"}}, d.clone()));
    assert!(!m(doc! {"s": {"$type": "number"}}, d.clone()));
    assert!(m(doc! {"arr": {"$type": "array"}}, d.clone()));
    assert!(m(doc! {"arr": {"$type": "string"}}, d.clone()));
    assert!(m(doc! {"d": {"$type": ["string", "double"]}}, d.clone()));
    assert!(m(
        doc! {"s": {"$regex": "^hel", "$options": "i"}},
        d.clone()
    ));
    assert!(!m(doc! {"s": {"$regex": "^hel"}}, d.clone()));
    assert!(m(
        doc! {"s": Bson::RegularExpression(bson::Regex { pattern: "llo$".into(), options: String::new() })},
        d.clone()
    ));
    assert!(m(doc! {"arr": {"$regex": "x"}}, d.clone()));
    assert!(m(doc! {"i": {"$mod": [2, 1]}}, d.clone()));
    assert!(!m(doc! {"l": {"$mod": [3, 0]}}, d));
}

#[test]
fn expr_compares_fields() {
    assert!(m(
        doc! {"$expr": {"$gt": ["$a", "$b"]}},
        doc! {"a": 3, "b": 2}
    ));
    assert!(!m(
        doc! {"$expr": {"$gt": ["$a", "$b"]}},
        doc! {"a": 1, "b": 2}
    ));
}

#[test]
fn unknown_operators_are_bad_value() {
    let e = Matcher::new(&doc! {"a": {"$foo": 1}}).unwrap_err();
    assert_eq!(e.code, 2);
    assert_eq!(e.errmsg, "unknown operator: $foo");
    assert_eq!(Matcher::new(&doc! {"$foo": 1}).unwrap_err().code, 2);
    assert_eq!(Matcher::new(&doc! {"$or": []}).unwrap_err().code, 2);
    assert_eq!(Matcher::new(&doc! {"a": {"$in": 1}}).unwrap_err().code, 2);
}

#[test]
fn id_equality_fast_path() {
    let id = |f: Document| Matcher::new(&f).unwrap().id_equality().cloned();
    assert_eq!(id(doc! {"_id": 5, "a": 1}), Some(Bson::Int32(5)));
    assert_eq!(
        id(doc! {"_id": {"$eq": "k"}}),
        Some(Bson::String("k".into()))
    );
    assert_eq!(
        id(doc! {"$and": [{"a": 1}, {"_id": 7}]}),
        Some(Bson::Int32(7))
    );
    assert_eq!(id(doc! {"_id": {"$gt": 5}}), None);
    assert_eq!(id(doc! {"_id": {"$in": [1, 2]}}), None);
    assert_eq!(id(doc! {"a": 1}), None);
}
