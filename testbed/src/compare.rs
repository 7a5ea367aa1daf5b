//! BSON comparison in MongoDB's canonical type order (numbers compare across types).
//!
//! Mirrors `BSONElement::woCompare`: values are first ranked by canonical type, then compared
//! within the type; documents compare element by element (type rank, field name, then value).

use bson::{Bson, Document};
use std::cmp::Ordering;

/// Total order over BSON values as mongod sorts them
/// (MinKey < null < numbers < string/symbol < object < array < binData < ObjectId < bool < date < timestamp < regex < MaxKey).
pub fn cmp_bson(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        _ if ra == RANK_NUMBER => cmp_numbers(a, b),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => {
            x.as_bytes().cmp(y.as_bytes())
        }
        (Bson::Document(x), Bson::Document(y)) => cmp_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => cmp_arrays(x, y),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_bytes()
            .cmp(y.pattern.as_bytes())
            .then_with(|| x.options.as_bytes().cmp(y.options.as_bytes())),
        (Bson::DbPointer(_), Bson::DbPointer(_)) => format!("{a:?}").cmp(&format!("{b:?}")),
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => x
            .code
            .as_bytes()
            .cmp(y.code.as_bytes())
            .then_with(|| cmp_documents(&x.scope, &y.scope)),
        _ => Ordering::Equal,
    }
}

/// Query equality: numeric values equal across types (1 == 1.0 == NumberLong(1)), documents field-order sensitive.
pub fn values_equal(a: &Bson, b: &Bson) -> bool {
    cmp_bson(a, b) == Ordering::Equal
}

/// Exact (binary) equality: same types, same field order, NaN equal to itself. Used for no-op
/// detection, where mongod compares bytes (so `1` and `1.0` differ).
pub fn identical(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        (Bson::Document(x), Bson::Document(y)) => documents_identical(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| identical(p, q))
        }
        _ => a == b,
    }
}

/// Exact document equality including field order.
pub fn documents_identical(a: &Document, b: &Document) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && identical(va, vb))
}

const RANK_NUMBER: u8 = 10;

/// Canonical type rank (`canonicalizeBSONType` in mongod).
pub fn type_rank(v: &Bson) -> u8 {
    match v {
        Bson::MinKey => 0,
        Bson::Undefined => 2,
        Bson::Null => 5,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => RANK_NUMBER,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A number as mongod compares it: exact integers where possible, else a double.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

/// The numeric value of `v` if it is a number (Decimal128 goes through its decimal string).
pub(crate) fn as_num(v: &Bson) -> Option<Num> {
    match v {
        Bson::Int32(i) => Some(Num::Int(*i as i64)),
        Bson::Int64(i) => Some(Num::Int(*i)),
        Bson::Double(d) => Some(Num::Float(*d)),
        Bson::Decimal128(d) => Some(Num::Float(decimal_to_f64(d))),
        _ => None,
    }
}

/// Decimal128 as a double (approximate; enough for comparison in tests).
pub(crate) fn decimal_to_f64(d: &bson::Decimal128) -> f64 {
    let s = d.to_string();
    match s.as_str() {
        "NaN" | "-NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

fn cmp_numbers(a: &Bson, b: &Bson) -> Ordering {
    match (as_num(a), as_num(b)) {
        (Some(x), Some(y)) => cmp_num(x, y),
        _ => Ordering::Equal,
    }
}

/// NaN sorts below every other number and equals itself, as in mongod.
pub(crate) fn cmp_num(x: Num, y: Num) -> Ordering {
    match (x, y) {
        (Num::Int(p), Num::Int(q)) => p.cmp(&q),
        (Num::Int(p), Num::Float(q)) => cmp_int_float(p, q),
        (Num::Float(p), Num::Int(q)) => cmp_int_float(q, p).reverse(),
        (Num::Float(p), Num::Float(q)) => cmp_floats(p, q),
    }
}

fn cmp_floats(p: f64, q: f64) -> Ordering {
    match (p.is_nan(), q.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
    }
}

/// Exact comparison of an i64 with a double (no precision loss for large integers).
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Greater;
    }
    // 2^63 as f64 is exact; anything at or beyond it is larger than every i64.
    if f >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            if f > t {
                Ordering::Less
            } else if f < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

fn cmp_documents(x: &Document, y: &Document) -> Ordering {
    let mut ix = x.iter();
    let mut iy = y.iter();
    loop {
        match (ix.next(), iy.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let o = type_rank(va)
                    .cmp(&type_rank(vb))
                    .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
                    .then_with(|| cmp_bson(va, vb));
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

fn cmp_arrays(x: &[Bson], y: &[Bson]) -> Ordering {
    for (a, b) in x.iter().zip(y) {
        let o = cmp_bson(a, b);
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    #[test]
    fn numbers_compare_across_types() {
        assert!(values_equal(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(values_equal(&Bson::Int64(1), &Bson::Int32(1)));
        let d: bson::Decimal128 = "1".parse().unwrap();
        assert!(values_equal(&Bson::Decimal128(d), &Bson::Int32(1)));
        assert_eq!(
            cmp_bson(&Bson::Int32(2), &Bson::Double(2.5)),
            Ordering::Less
        );
        assert_eq!(
            cmp_bson(&Bson::Int64(i64::MAX), &Bson::Double(9.3e18)),
            Ordering::Less
        );
        assert_eq!(
            cmp_bson(&Bson::Double(f64::NAN), &Bson::Int32(-5)),
            Ordering::Less
        );
    }

    #[test]
    fn canonical_type_order() {
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(5),
            Bson::String("a".into()),
            Bson::Document(doc! {}),
            Bson::Array(vec![]),
            Bson::ObjectId(ObjectId::new()),
            Bson::Boolean(false),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                cmp_bson(&w[0], &w[1]),
                Ordering::Less,
                "{:?} < {:?}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn documents_compare_by_name_then_value_and_order_matters() {
        assert!(!values_equal(
            &Bson::Document(doc! {"a": 1, "b": 2}),
            &Bson::Document(doc! {"b": 2, "a": 1})
        ));
        assert!(values_equal(
            &Bson::Document(doc! {"a": 1}),
            &Bson::Document(doc! {"a": 1.0})
        ));
        assert_eq!(
            cmp_bson(
                &Bson::Document(doc! {"a": 1}),
                &Bson::Document(doc! {"a": 1, "b": 0})
            ),
            Ordering::Less
        );
        assert_eq!(
            cmp_bson(&bson::bson!([1, 2]), &bson::bson!([1, 3])),
            Ordering::Less
        );
        assert_eq!(
            cmp_bson(&Bson::String("B".into()), &Bson::String("a".into())),
            Ordering::Less
        );
    }

    #[test]
    fn identical_is_type_and_order_sensitive() {
        assert!(!identical(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(!documents_identical(
            &doc! {"a": 1, "b": 2},
            &doc! {"b": 2, "a": 1}
        ));
        assert!(identical(&Bson::Double(f64::NAN), &Bson::Double(f64::NAN)));
    }
}
