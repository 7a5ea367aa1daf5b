use super::Projection;
use bson::{doc, Document};

fn p(spec: Document, d: Document) -> Document {
    Projection::new(&spec).unwrap().apply(&d).unwrap()
}

#[test]
fn inclusion_keeps_listed_fields_and_id() {
    let d = doc! {"_id": 1, "a": 1, "b": {"c": 1, "d": 2}, "e": 3};
    assert_eq!(
        p(doc! {"a": 1, "b.c": 1}, d.clone()),
        doc! {"_id": 1, "a": 1, "b": {"c": 1}}
    );
    assert_eq!(p(doc! {"e": true, "_id": 0}, d.clone()), doc! {"e": 3});
    assert_eq!(p(doc! {"b": {"d": 1}}, d), doc! {"_id": 1, "b": {"d": 2}});
}

#[test]
fn exclusion_drops_listed_fields() {
    let d = doc! {"_id": 1, "a": 1, "b": {"c": 1, "d": 2}};
    assert_eq!(
        p(doc! {"b.c": 0}, d.clone()),
        doc! {"_id": 1, "a": 1, "b": {"d": 2}}
    );
    assert_eq!(p(doc! {"_id": 0, "a": 0}, d), doc! {"b": {"c": 1, "d": 2}});
}

#[test]
fn dotted_paths_map_over_arrays() {
    let d = doc! {"_id": 1, "a": [{"b": 1, "c": 2}, 5, {"c": 3}]};
    assert_eq!(
        p(doc! {"a.b": 1}, d.clone()),
        doc! {"_id": 1, "a": [{"b": 1}, {}]}
    );
    assert_eq!(
        p(doc! {"a.b": 0}, d),
        doc! {"_id": 1, "a": [{"c": 2}, 5, {"c": 3}]}
    );
}

#[test]
fn mixing_inclusion_and_exclusion_is_an_error_except_id() {
    assert_eq!(
        Projection::new(&doc! {"a": 1, "b": 0}).unwrap_err().code,
        31254
    );
    assert_eq!(
        Projection::new(&doc! {"a": 0, "b": 1}).unwrap_err().code,
        31253
    );
    assert!(Projection::new(&doc! {"a": 1, "_id": 0}).is_ok());
}

#[test]
fn slice_elem_match_and_computed_fields() {
    let d = doc! {"_id": 1, "arr": [1, 2, 3, 4], "docs": [{"k": 1}, {"k": 2}], "x": 5};
    assert_eq!(
        p(doc! {"arr": {"$slice": 2}}, d.clone())
            .get_array("arr")
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        p(
            doc! {"arr": {"$slice": [-3, 2]}, "_id": 0, "x": 0, "docs": 0},
            d.clone()
        ),
        doc! {"arr": [2, 3]}
    );
    assert_eq!(
        p(doc! {"docs": {"$elemMatch": {"k": 2}}, "x": 1}, d.clone()),
        doc! {"_id": 1, "docs": [{"k": 2}], "x": 5}
    );
    assert_eq!(
        p(doc! {"y": "$x", "z": {"$literal": 1}}, d),
        doc! {"_id": 1, "y": 5, "z": 1}
    );
}
