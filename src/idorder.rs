//! Resuming an `_id`-ordered scan after a given `_id`. Query comparisons only match values of
//! the same type bracket (`{$gt: 5}` never matches a string), while `_id` order spans every
//! type, so "after x" is `$gt x` within x's bracket, or any type that sorts after x's bracket.

use bson::{doc, Bson, Document};

/// `$type` aliases in MongoDB's canonical sort order, grouped by bracket.
const BRACKETS: &[&[&str]] = &[
    &["minKey"],
    &["null", "undefined"],
    &["double", "int", "long", "decimal"],
    &["string", "symbol"],
    &["object"],
    &["array"],
    &["binData"],
    &["objectId"],
    &["bool"],
    &["date"],
    &["timestamp"],
    &["regex"],
    &["dbPointer"],
    &["javascript"],
    &["javascriptWithScope"],
    &["maxKey"],
];

/// The bracket index of a value in canonical order.
pub fn bracket(v: &Bson) -> usize {
    match v {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 2,
        Bson::String(_) | Bson::Symbol(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) => 12,
        Bson::JavaScriptCode(_) => 13,
        Bson::JavaScriptCodeWithScope(_) => 14,
        Bson::MaxKey => 15,
    }
}

/// The filter matching every document whose `_id` sorts after `last`.
pub fn after_id_filter(last: &Bson) -> Document {
    let later: Vec<Bson> = BRACKETS[bracket(last) + 1..]
        .iter()
        .flat_map(|b| b.iter().map(|t| Bson::String(t.to_string())))
        .collect();
    if later.is_empty() {
        doc! {"_id": {"$gt": last.clone()}}
    } else {
        doc! {"$or": [{"_id": {"$gt": last.clone()}}, {"_id": {"$type": later}}]}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_followed_by_every_later_bracket() {
        let f = after_id_filter(&Bson::Int32(5));
        let types = f.get_array("$or").unwrap()[1]
            .as_document()
            .unwrap()
            .get_document("_id")
            .unwrap()
            .get_array("$type")
            .unwrap()
            .clone();
        assert!(types.contains(&Bson::String("string".into())));
        assert!(types.contains(&Bson::String("objectId".into())));
        assert!(!types.contains(&Bson::String("double".into())));
        assert!(!types.contains(&Bson::String("null".into())));
    }

    #[test]
    fn max_key_has_no_later_bracket() {
        assert_eq!(
            after_id_filter(&Bson::MaxKey),
            doc! {"_id": {"$gt": Bson::MaxKey}}
        );
    }

    #[test]
    fn brackets_follow_canonical_order() {
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int64(1),
            Bson::String("a".into()),
            Bson::Document(doc! {}),
            Bson::ObjectId(bson::oid::ObjectId::new()),
            Bson::Boolean(true),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert!(
                bracket(&w[0]) < bracket(&w[1]),
                "{:?} before {:?}",
                w[0],
                w[1]
            );
        }
    }
}
