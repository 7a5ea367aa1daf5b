//! Arithmetic on BSON numbers with mongod's type promotion (int32 -> int64 -> double, and
//! Decimal128 when either side is decimal), shared by `$inc`/`$mul` and aggregation.

use crate::compare::decimal_to_f64;
use bson::Bson;

/// Width of a numeric result; the wider operand wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Int32,
    Int64,
    Double,
    Decimal,
}

fn kind(v: &Bson) -> Option<Kind> {
    match v {
        Bson::Int32(_) => Some(Kind::Int32),
        Bson::Int64(_) => Some(Kind::Int64),
        Bson::Double(_) => Some(Kind::Double),
        Bson::Decimal128(_) => Some(Kind::Decimal),
        _ => None,
    }
}

/// True for int32, int64, double and Decimal128.
pub fn is_number(v: &Bson) -> bool {
    kind(v).is_some()
}

fn as_i64(v: &Bson) -> i64 {
    match v {
        Bson::Int32(i) => *i as i64,
        Bson::Int64(i) => *i,
        _ => 0,
    }
}

/// The value as a double (any numeric type).
pub fn as_f64(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(i) => Some(*i as f64),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => Some(decimal_to_f64(d)),
        _ => None,
    }
}

/// A double as Decimal128 (through its shortest decimal representation).
pub fn f64_to_decimal(f: f64) -> Bson {
    let s = if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{f}")
    };
    s.parse().map(Bson::Decimal128).unwrap_or(Bson::Double(f))
}

fn combine(
    a: &Bson,
    b: &Bson,
    int_op: fn(i64, i64) -> Option<i64>,
    float_op: fn(f64, f64) -> f64,
) -> Option<Bson> {
    let k = kind(a)?.max(kind(b)?);
    let float = || float_op(as_f64(a).unwrap(), as_f64(b).unwrap());
    Some(match k {
        Kind::Int32 => match int_op(as_i64(a), as_i64(b)) {
            Some(r) if i32::try_from(r).is_ok() => Bson::Int32(r as i32),
            Some(r) => Bson::Int64(r),
            None => Bson::Double(float()),
        },
        Kind::Int64 => match int_op(as_i64(a), as_i64(b)) {
            Some(r) => Bson::Int64(r),
            None => Bson::Double(float()),
        },
        Kind::Double => Bson::Double(float()),
        Kind::Decimal => f64_to_decimal(float()),
    })
}

/// `a + b`, or `None` when either is not a number.
pub fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    combine(a, b, i64::checked_add, |x, y| x + y)
}

/// `a - b`, or `None` when either is not a number.
pub fn subtract(a: &Bson, b: &Bson) -> Option<Bson> {
    combine(a, b, i64::checked_sub, |x, y| x - y)
}

/// `a * b`, or `None` when either is not a number.
pub fn multiply(a: &Bson, b: &Bson) -> Option<Bson> {
    combine(a, b, i64::checked_mul, |x, y| x * y)
}

/// Zero of the same numeric type as `v` (what `$mul` stores in a missing field).
pub fn zero_like(v: &Bson) -> Bson {
    match v {
        Bson::Int64(_) => Bson::Int64(0),
        Bson::Double(_) => Bson::Double(0.0),
        Bson::Decimal128(_) => f64_to_decimal(0.0),
        _ => Bson::Int32(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_overflow_promotes_to_int64_then_double() {
        assert_eq!(add(&Bson::Int32(1), &Bson::Int32(2)), Some(Bson::Int32(3)));
        assert_eq!(
            add(&Bson::Int32(i32::MAX), &Bson::Int32(1)),
            Some(Bson::Int64(i32::MAX as i64 + 1))
        );
        assert_eq!(
            add(&Bson::Int64(i64::MAX), &Bson::Int32(1)),
            Some(Bson::Double(i64::MAX as f64 + 1.0))
        );
        assert_eq!(
            multiply(&Bson::Int32(2), &Bson::Double(1.5)),
            Some(Bson::Double(3.0))
        );
        assert_eq!(add(&Bson::Int32(1), &Bson::String("x".into())), None);
    }

    #[test]
    fn decimal_wins() {
        let d: bson::Decimal128 = "1.5".parse().unwrap();
        let r = add(&Bson::Decimal128(d), &Bson::Int32(1)).unwrap();
        assert!(matches!(r, Bson::Decimal128(_)));
        assert!(r.to_string().contains("2.5"));
    }
}
