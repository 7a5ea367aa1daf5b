//! Encoded BSON sizes computed without encoding (the 16 MiB limit and `listDatabases` sizes).

use bson::{Bson, Document};

/// Largest document a client may store (`maxBsonObjectSize`).
pub(crate) const MAX_USER_SIZE: usize = 16 * 1024 * 1024;

/// Size of `d` once encoded.
pub(crate) fn doc_size(d: &Document) -> usize {
    5 + d
        .iter()
        .map(|(k, v)| 2 + k.len() + value_size(v))
        .sum::<usize>()
}

fn digits(mut i: usize) -> usize {
    let mut n = 1;
    while i >= 10 {
        i /= 10;
        n += 1;
    }
    n
}

fn value_size(v: &Bson) -> usize {
    match v {
        Bson::Double(_) | Bson::DateTime(_) | Bson::Timestamp(_) | Bson::Int64(_) => 8,
        Bson::String(s) | Bson::JavaScriptCode(s) | Bson::Symbol(s) => 5 + s.len(),
        Bson::Document(d) => doc_size(d),
        Bson::Array(a) => {
            5 + a
                .iter()
                .enumerate()
                .map(|(i, v)| 2 + digits(i) + value_size(v))
                .sum::<usize>()
        }
        Bson::Binary(b) => {
            5 + b.bytes.len()
                + if b.subtype == bson::spec::BinarySubtype::BinaryOld {
                    4
                } else {
                    0
                }
        }
        Bson::ObjectId(_) => 12,
        Bson::Boolean(_) => 1,
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => 0,
        Bson::RegularExpression(r) => r.pattern.len() + r.options.len() + 2,
        Bson::JavaScriptCodeWithScope(c) => 4 + 5 + c.code.len() + doc_size(&c.scope),
        Bson::Int32(_) => 4,
        Bson::Decimal128(_) => 16,
        Bson::DbPointer(_) => 5 + 12 + db_pointer_ns_len(v),
    }
}

/// `DbPointer` hides its namespace; measure it by encoding (rare type).
fn db_pointer_ns_len(v: &Bson) -> usize {
    let mut d = Document::new();
    d.insert("", v.clone());
    bson::to_vec(&d)
        .map(|b| b.len().saturating_sub(7 + 5 + 12))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn computed_size_matches_encoding() {
        let d = doc! {
            "_id": bson::oid::ObjectId::new(), "s": "héllo", "n": 1, "l": 2_i64, "f": 1.5,
            "a": [1, "x", {"y": null}, [true]], "b": bson::Binary{subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1,2,3]},
            "t": bson::Timestamp{time: 1, increment: 2}, "d": bson::DateTime::now(),
            "r": bson::Regex{pattern: "a.*".into(), options: "i".into()}, "big": (0..20).map(Bson::Int32).collect::<Vec<_>>(),
        };
        assert_eq!(doc_size(&d), bson::to_vec(&d).unwrap().len());
    }
}
