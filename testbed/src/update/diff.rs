//! The change-stream description of a pipeline update: a top-level-field delta of old vs new
//! (arrays changed in place are described per element, with truncation).
//!
//! mongod logs a pipeline update as a delta (diff) oplog entry, reported as an `update` event,
//! and falls back to a full replacement (a `replace` event) when it cannot express the change
//! as a delta. Here the delta is per top-level field; it is used only when replaying it (unset
//! the removed fields, then set the updated ones, both as dotted paths) rebuilds exactly the new
//! document, field order included. Otherwise (reordered fields, a dotted field name, ...) the
//! change is a replacement.

use super::UpdateDescription;
use crate::compare::{documents_identical, identical};
use crate::path::{get_path_mut, set_path, unset_path};
use bson::{Bson, Document};

/// The delta from `old` to `new`, or `None` when only a full replacement states the change.
pub(super) fn delta(old: &Document, new: &Document) -> Option<UpdateDescription> {
    let mut d = UpdateDescription::default();
    for k in old.keys() {
        if !new.contains_key(k) {
            d.removed_fields.push(k.clone());
        }
    }
    for (k, v) in new {
        match (old.get(k), v) {
            (Some(o), _) if identical(o, v) => {}
            (Some(Bson::Array(a)), Bson::Array(b)) => array_delta(&mut d, k, a, b),
            _ => {
                d.updated_fields.insert(k.clone(), v.clone());
            }
        }
    }
    let replayed = replay(old, &d)?;
    documents_identical(&replayed, new).then_some(d)
}

/// An array changed in place: truncated to the new length when shorter, then the elements that
/// differ (or were appended) reported by index (`"arr.3"`), as mongod's array diffs do.
fn array_delta(d: &mut UpdateDescription, field: &str, old: &[Bson], new: &[Bson]) {
    if new.len() < old.len() {
        d.truncated_arrays
            .push((field.to_string(), new.len() as i32));
    }
    for (i, v) in new.iter().enumerate() {
        if old.get(i).is_none_or(|o| !identical(o, v)) {
            d.updated_fields.insert(format!("{field}.{i}"), v.clone());
        }
    }
}

/// What a client does with the description: truncate each array, `$unset` each removed path,
/// then `$set` each updated path (dotted names are paths). `None` when a path cannot be set.
pub(crate) fn replay(old: &Document, d: &UpdateDescription) -> Option<Document> {
    let mut doc = old.clone();
    for (f, size) in &d.truncated_arrays {
        let parts: Vec<&str> = f.split('.').collect();
        match get_path_mut(&mut doc, &parts) {
            Some(Bson::Array(a)) => a.truncate(*size as usize),
            _ => return None,
        }
    }
    for f in &d.removed_fields {
        let parts: Vec<&str> = f.split('.').collect();
        unset_path(&mut doc, &parts);
    }
    for (f, v) in &d.updated_fields {
        let parts: Vec<&str> = f.split('.').collect();
        set_path(&mut doc, &parts, v.clone()).ok()?;
    }
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use proptest::prelude::*;

    #[test]
    fn changed_added_and_removed_fields_form_a_delta() {
        let old = doc! {"_id": 1, "a": 1, "b": {"c": 2}, "gone": true};
        let new = doc! {"_id": 1, "a": 2, "b": {"c": 2}, "n": [1]};
        let d = delta(&old, &new).expect("expressible");
        assert_eq!(d.updated_fields, doc! {"a": 2, "n": [1]});
        assert_eq!(d.removed_fields, vec!["gone".to_string()]);
        assert!(d.truncated_arrays.is_empty());
    }

    #[test]
    fn an_identical_document_is_an_empty_delta() {
        let old = doc! {"_id": 1, "a": 1};
        assert_eq!(
            delta(&old, &old.clone()),
            Some(UpdateDescription::default())
        );
    }

    #[test]
    fn reordered_fields_are_a_replacement() {
        let old = doc! {"_id": 1, "a": 1, "b": 2};
        assert_eq!(delta(&old, &doc! {"_id": 1, "b": 2, "a": 1}), None);
        // A new field before an old one cannot be appended by `$set`.
        assert_eq!(delta(&old, &doc! {"_id": 1, "z": 0, "a": 1, "b": 2}), None);
    }

    #[test]
    fn a_dotted_field_name_is_a_replacement() {
        // `$set: {"a.b": 1}` would create {a: {b: 1}}, not the top-level field "a.b".
        let old = doc! {"_id": 1};
        assert_eq!(delta(&old, &doc! {"_id": 1, "a.b": 1}), None);
    }

    #[test]
    fn arrays_changed_in_place_are_truncated_and_described_per_element() {
        let old = doc! {"_id": 1, "arr": ["foo", {"a": "bar"}, 1, 2, 3]};
        let d = delta(&old, &doc! {"_id": 1, "arr": ["foo", {"a": "bar"}]}).unwrap();
        assert_eq!(d.truncated_arrays, vec![("arr".to_string(), 2)]);
        assert!(d.updated_fields.is_empty() && d.removed_fields.is_empty());
        let d = delta(
            &old,
            &doc! {"_id": 1, "arr": ["x", {"a": "bar"}, 1, 2, 3, 4]},
        )
        .unwrap();
        assert!(d.truncated_arrays.is_empty());
        assert_eq!(d.updated_fields, doc! {"arr.0": "x", "arr.5": 4});
        let d = delta(&old, &doc! {"_id": 1, "arr": [0]}).unwrap();
        assert_eq!(d.truncated_arrays, vec![("arr".to_string(), 1)]);
        assert_eq!(d.updated_fields, doc! {"arr.0": 0});
    }

    #[test]
    fn a_type_change_of_an_equal_number_is_reported() {
        let old = doc! {"_id": 1, "a": 1};
        let d = delta(&old, &doc! {"_id": 1, "a": 1.0}).unwrap();
        assert_eq!(d.updated_fields, doc! {"a": 1.0});
    }

    const NAMES: &[&str] = &["_id", "a", "b", "c", "$d", "e.f", "0"];

    fn leaf() -> impl Strategy<Value = Bson> {
        prop_oneof![
            (0i32..3).prop_map(Bson::Int32),
            Just(Bson::Double(1.0)),
            Just(Bson::Null),
            "[xy]{0,1}".prop_map(Bson::String),
        ]
    }

    fn value() -> impl Strategy<Value = Bson> {
        leaf().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
                prop::collection::vec((prop::sample::select(&NAMES[1..]), inner), 0..3).prop_map(
                    |kvs| Bson::Document(
                        kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                    )
                ),
            ]
        })
    }

    fn document() -> impl Strategy<Value = Document> {
        prop::collection::vec((prop::sample::select(NAMES), value()), 0..6)
            .prop_map(|kvs| kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// A new document related to `old`: some fields kept, changed, dropped, added or reordered.
    fn old_and_new() -> impl Strategy<Value = (Document, Document)> {
        (document(), document(), any::<bool>()).prop_map(|(old, extra, shuffle)| {
            let mut new = Document::new();
            for (i, (k, v)) in old.iter().enumerate() {
                match i % 3 {
                    0 => {
                        new.insert(k.clone(), v.clone());
                    }
                    1 => {}
                    _ => {
                        new.insert(
                            k.clone(),
                            extra.values().next().cloned().unwrap_or(Bson::Null),
                        );
                    }
                }
            }
            for (k, v) in &extra {
                new.insert(k.clone(), v.clone());
            }
            if shuffle {
                let mut items: Vec<_> = new.into_iter().collect();
                items.reverse();
                new = items.into_iter().collect();
            }
            (old, new)
        })
    }

    /// Guards the generator: both outcomes must be common, or the property is vacuous.
    #[test]
    fn generator_yields_both_deltas_and_replacements() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut deltas, mut nonempty) = (0, 0);
        for _ in 0..500 {
            let (old, new) = old_and_new().new_tree(&mut runner).unwrap().current();
            if let Some(d) = delta(&old, &new) {
                deltas += 1;
                nonempty += (!d.updated_fields.is_empty() && !d.removed_fields.is_empty()) as i32;
            }
        }
        assert!((100..400).contains(&deltas), "deltas {deltas}/500");
        assert!(
            nonempty > 30,
            "deltas with both sets and unsets: {nonempty}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn a_delta_replays_to_exactly_the_new_document((old, new) in old_and_new()) {
            if let Some(d) = delta(&old, &new) {
                let replayed = replay(&old, &d).expect("a returned delta replays");
                prop_assert!(documents_identical(&replayed, &new), "old {old}\nnew {new}\n{d:?}");
            }
        }

        #[test]
        fn changing_existing_fields_in_place_is_always_a_delta(old in document(), v in value()) {
            let mut new = old.clone();
            for (k, slot) in new.iter_mut() {
                if !k.contains('.') {
                    *slot = v.clone();
                }
            }
            let d = delta(&old, &new);
            prop_assert!(d.is_some(), "old {old}\nnew {new}");
        }
    }
}
