//! The one definition of how `_id`s are ordered, shared by copy resume filters, verify and resync.
//!
//! Everything here follows mongod's own comparator, not the documentation's summary:
//!
//! * Type order: `canonicalizeBSONType` / `canonicalizeBSONTypeUnsafeLookup` in
//!   `src/mongo/bson/bsontypes.h`: MinKey = -1 (the BSONType value), EOO and Undefined = 0,
//!   Null = 5, numbers (double, int, long, decimal) = 10, string and symbol = 15, object = 20,
//!   array = 25, binData = 30, ObjectId = 35, bool = 40, date = 45, timestamp = 47, regex = 50,
//!   DBPointer (`dbRef`) = 55, code = 60, code with scope = 65, MaxKey = 127. The documentation
//!   page "Comparison/Sort Order" (mongodb.com/docs/manual/reference/bson-type-comparison-order/)
//!   lists the same order but omits the deprecated Undefined and DBPointer; the source puts
//!   Undefined *below* Null (a separate rank, equal only to EOO) and DBPointer between regex and
//!   JavaScript code.
//! * Values of one rank: `BSONElement::compareElements` and `BSONElement::woCompare` in
//!   `src/mongo/bson/bsonelement.cpp`; numbers across types: `compareLongToDouble`,
//!   `compareDecimals`, `compareDecimalToDouble`, ... in `src/mongo/base/compare_numbers.h`.
//! * Query matching (for [`after_id_filter`]): `ComparisonMatchExpressionBase::compare` and the
//!   constructor in `src/mongo/db/matcher/expression_leaf.cpp` (type bracketing, the MinKey/MaxKey
//!   and null/undefined exceptions, NaN never `$gt`/`$lt` anything, "cannot compare to undefined"),
//!   and `MatchExpressionParser` ("Can't have RegEx as arg to predicate over field").
//!
//! Strings are compared by bytes (the simple collation). A collection with a non-simple default
//! collation orders string `_id`s by that collation on the server (its `_id` index inherits it);
//! [`cmp_ids`] does not model collations.

mod numbers;
#[cfg(test)]
mod tests;

use bson::{doc, Bson, Document};
use numbers::{cmp_numbers, Num};
use std::cmp::Ordering;

/// THE type order: one entry per sort rank, lowest first; a value's rank is the index of the entry
/// holding its `$type` alias. The `i8` is mongod's `canonicalizeBSONType` value for the entry,
/// kept to document (and test) that the entries follow mongod; nothing else reads it.
const ORDER: [(i8, &[&str]); 17] = [
    (-1, &["minKey"]),
    (0, &["undefined"]), // same canonical type as EOO (a missing field), below null
    (5, &["null"]),
    (10, &["double", "int", "long", "decimal"]),
    (15, &["string", "symbol"]),
    (20, &["object"]),
    (25, &["array"]),
    (30, &["binData"]),
    (35, &["objectId"]),
    (40, &["bool"]),
    (45, &["date"]),
    (47, &["timestamp"]),
    (50, &["regex"]),
    (55, &["dbPointer"]),
    (60, &["javascript"]),
    (65, &["javascriptWithScope"]),
    (127, &["maxKey"]),
];

/// The `$type` alias of a value's BSON type (a name only; the order lives in [`ORDER`]).
fn type_alias(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Array(_) => "array",
        Bson::Document(_) => "object",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Timestamp(_) => "timestamp",
        Bson::Binary(_) => "binData",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        Bson::Symbol(_) => "symbol",
        Bson::Decimal128(_) => "decimal",
        Bson::Undefined => "undefined",
        Bson::MaxKey => "maxKey",
        Bson::MinKey => "minKey",
        Bson::DbPointer(_) => "dbPointer",
    }
}

/// MongoDB's canonical type rank of a value (0 = MinKey ... 16 = MaxKey), i.e. the position of
/// its type in mongod's `canonicalizeBSONType` order. Values of different ranks compare by rank
/// alone; values of one rank compare by value ([`cmp_ids`]).
pub fn type_rank(v: &Bson) -> u8 {
    let alias = type_alias(v);
    ORDER
        .iter()
        .position(|(_, aliases)| aliases.contains(&alias))
        .expect("every $type alias appears in ORDER") as u8
}

/// Orders two values as mongod sorts them (`BSONElement::woCompare`, simple collation):
///
/// * first by [`type_rank`];
/// * numbers by numeric value across int32/int64/double/decimal128, exactly: NaN (double or
///   decimal) sorts below every other number and equals every NaN; -0 equals 0. Decimal128 is
///   decoded from its IEEE 754-2008 BID bytes (`Decimal128::bytes`, the only accessor bson 2.x
///   offers) and compared exactly against ints, decimals and doubles (a double is expanded to its
///   exact decimal value). That is mongod's result too (`compareDecimalToDouble` rounds toward
///   negative and checks the inexact flag). No `to_string()`-into-f64 fallback is needed, so none
///   is used; the tests cross-check the decoder against `to_string()`;
/// * string and symbol by bytes (memcmp, then length);
/// * objects position by position: the field's type rank, then the field name's bytes, then the
///   value; a prefix sorts first (`BSONObj::woCompare` with field names considered);
/// * arrays element by element (rank, then value), then by length (mongod compares them as
///   objects with keys "0", "1", ..., which amounts to the same);
/// * binData by the length on the wire, then subtype byte, then bytes (`compareElements`: length,
///   then memcmp of subtype + data). For the old binary subtype 2, bson strips the inner 4-byte
///   length, which is put back here so the comparison sees what mongod sees;
/// * ObjectId by its 12 bytes; bool false < true; date by signed milliseconds; timestamp by
///   (time, increment), unsigned;
/// * regex by pattern bytes, then options bytes (strcmp of each);
/// * DBPointer as mongod does (`compareElements`, `dbRef`): by the size of the value, then its raw
///   bytes, i.e. by namespace length, then namespace bytes, then ObjectId bytes. bson 2.x keeps the
///   fields private, so the value is serialized to read its bytes;
/// * JavaScript code like strings; code with scope by code (bytes, then length), then scope as an
///   object;
/// * MinKey, Undefined, Null, MaxKey: all values of each are equal.
pub fn cmp_ids(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    if let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) {
        return cmp_numbers(x, y);
    }
    match (a, b) {
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => {
            x.as_bytes().cmp(y.as_bytes())
        }
        (Bson::Document(x), Bson::Document(y)) => cmp_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => cmp_arrays(x, y),
        (Bson::Binary(x), Bson::Binary(y)) => {
            let (px, py) = (binary_payload(x), binary_payload(y));
            px.len()
                .cmp(&py.len())
                .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
                .then_with(|| px.cmp(&py))
        }
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
        (Bson::DbPointer(_), Bson::DbPointer(_)) => match (raw_value(a), raw_value(b)) {
            (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(&y)),
            // Serializing a DBPointer cannot fail; keep a total order regardless.
            _ => format!("{a:?}").cmp(&format!("{b:?}")),
        },
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => x
            .code
            .as_bytes()
            .cmp(y.code.as_bytes())
            .then_with(|| cmp_documents(&x.scope, &y.scope)),
        // MinKey, Undefined, Null, MaxKey: valueless, all equal within their rank.
        _ => Ordering::Equal,
    }
}

/// The query filter matching every document whose `_id` sorts after `last` in [`cmp_ids`] order.
///
/// Query comparison operators only match values of the operand's type bracket (`{$gt: 5}` never
/// matches a string; docs: "Type Bracketing in Query Predicates"), so the filter is
/// `{$or: [{_id: {$gt: last}}, {_id: {$type: [aliases of every later rank]}}]}`, or just
/// `{_id: {$gt: last}}` when `last` has the highest rank (MaxKey). The aliases come from the same
/// table as [`type_rank`]. Three operands need another first clause, because mongod's matcher
/// does not follow the sort order for them:
///
/// * NaN (double or decimal): `$gt: NaN` matches nothing (NaN never compares `$gt`/`$lt`), yet
///   every other number sorts after NaN, so the clause is `{_id: {$gte: -Infinity}}` (matches every
///   number except NaN);
/// * Undefined: `$gt: undefined` is rejected ("cannot compare to undefined"), and no value of its
///   rank sorts after it, so only the `$type` clause remains;
/// * regex: `$gt: /re/` is rejected ("Can't have RegEx as arg to predicate over field"); only the
///   `$type` clause remains, so later regexes are not matched. mongod refuses undefined and regex
///   `_id`s on insert ("can't use a undefined for _id", "can't use a regex for _id"), so neither
///   can occur as a stored `_id`.
///
/// After Null, the `$type` list starts at numbers and leaves out "undefined", which sorts *before*
/// null (and `$gt: null` matches neither null nor undefined).
pub fn after_id_filter(last: &Bson) -> Document {
    let later: Vec<Bson> = ORDER[type_rank(last) as usize + 1..]
        .iter()
        .flat_map(|(_, aliases)| aliases.iter())
        .map(|alias| Bson::String((*alias).to_string()))
        .collect();
    let same_rank = match last {
        Bson::Undefined | Bson::RegularExpression(_) => None,
        v if Num::of(v).is_some_and(Num::is_nan) => Some(doc! {"_id": {"$gte": f64::NEG_INFINITY}}),
        v => Some(doc! {"_id": {"$gt": v.clone()}}),
    };
    match same_rank {
        Some(clause) if later.is_empty() => clause,
        Some(clause) => doc! {"$or": [clause, {"_id": {"$type": later}}]},
        None => doc! {"_id": {"$type": later}},
    }
}

fn cmp_documents(x: &Document, y: &Document) -> Ordering {
    let (mut ix, mut iy) = (x.iter(), y.iter());
    loop {
        match (ix.next(), iy.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let o = type_rank(va)
                    .cmp(&type_rank(vb))
                    .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
                    .then_with(|| cmp_ids(va, vb));
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

fn cmp_arrays(x: &[Bson], y: &[Bson]) -> Ordering {
    x.iter()
        .zip(y)
        .map(|(a, b)| cmp_ids(a, b))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or_else(|| x.len().cmp(&y.len()))
}

/// The binData bytes after the subtype byte as stored on the wire (subtype 2 carries an inner
/// int32 length that bson strips when decoding).
fn binary_payload(b: &bson::Binary) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.bytes.len() + 4);
    if b.subtype == bson::spec::BinarySubtype::BinaryOld {
        out.extend_from_slice(&(b.bytes.len() as i32).to_le_bytes());
    }
    out.extend_from_slice(&b.bytes);
    out
}

/// The raw BSON value bytes of `v` (what mongod's `BSONElement::value()` points at).
fn raw_value(v: &Bson) -> Option<Vec<u8>> {
    let mut d = Document::new();
    d.insert("", v.clone());
    let bytes = bson::to_vec(&d).ok()?;
    // int32 document length, type byte, empty key's NUL, value..., document's trailing NUL.
    bytes
        .get(6..bytes.len().checked_sub(1)?)
        .map(<[u8]>::to_vec)
}
