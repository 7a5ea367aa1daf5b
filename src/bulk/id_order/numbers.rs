//! Numbers across int32, int64, double and decimal128, compared exactly as mongod does
//! (`src/mongo/base/compare_numbers.h`).

use bson::Bson;
use std::cmp::{Ordering, Reverse};

#[derive(Clone, Copy, Debug)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
    Dec(bson::Decimal128),
}

impl Num {
    pub(super) fn of(v: &Bson) -> Option<Num> {
        match v {
            Bson::Int32(i) => Some(Num::Int(i64::from(*i))),
            Bson::Int64(i) => Some(Num::Int(*i)),
            Bson::Double(d) => Some(Num::Float(*d)),
            Bson::Decimal128(d) => Some(Num::Dec(*d)),
            _ => None,
        }
    }

    pub(super) fn is_nan(self) -> bool {
        match self {
            Num::Int(_) => false,
            Num::Float(f) => f.is_nan(),
            Num::Dec(d) => Exact::of_decimal(d).is_none(),
        }
    }
}

pub(super) fn cmp_numbers(x: Num, y: Num) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    match (x, y) {
        (Num::Int(p), Num::Int(q)) => p.cmp(&q),
        (Num::Int(p), Num::Float(q)) => cmp_int_float(p, q),
        (Num::Float(p), Num::Int(q)) => cmp_int_float(q, p).reverse(),
        (Num::Float(p), Num::Float(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
        // At least one decimal: compare exact values.
        _ => Exact::of(x).cmp(&Exact::of(y)),
    }
}

/// Exact comparison of an i64 with a non-NaN double (as mongod's `compareLongToDouble`).
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    // |t| < 2^63 (or t == -2^63), so the conversion is exact.
    i.cmp(&(t as i64)).then_with(|| {
        if f > t {
            Ordering::Less
        } else if f < t {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}

/// The exact value of a non-NaN number, ordered numerically by the derived `Ord`
/// (variant order, then fields).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Exact {
    NegInf,
    Neg(Reverse<Magnitude>),
    Zero,
    Pos(Magnitude),
    PosInf,
}

/// A positive finite value `0.d1d2d3... * 10^exp` with `d1 != 0` and no trailing zero digits, so
/// the derived order (exponent, then digit bytes) is numeric order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Magnitude {
    exp: i64,
    digits: Vec<u8>,
}

impl Exact {
    /// `int(digits) * 10^pow`, negated if `neg`; `digits` are ASCII digits.
    pub(super) fn from_digits(neg: bool, digits: &[u8], pow: i64) -> Exact {
        let start = digits.iter().position(|d| *d != b'0');
        let Some(start) = start else {
            return Exact::Zero;
        };
        let sig = &digits[start..];
        let exp = sig.len() as i64 + pow;
        let end = sig.iter().rposition(|d| *d != b'0').map_or(0, |p| p + 1);
        let m = Magnitude {
            exp,
            digits: sig[..end].to_vec(),
        };
        if neg {
            Exact::Neg(Reverse(m))
        } else {
            Exact::Pos(m)
        }
    }

    /// The exact value of a non-NaN number.
    fn of(n: Num) -> Exact {
        match n {
            Num::Int(i) => Exact::from_digits(i < 0, i.unsigned_abs().to_string().as_bytes(), 0),
            Num::Float(f) => Exact::of_double(f),
            Num::Dec(d) => Exact::of_decimal(d).unwrap_or(Exact::Zero),
        }
    }

    fn of_double(f: f64) -> Exact {
        if f == f64::INFINITY {
            return Exact::PosInf;
        }
        if f == f64::NEG_INFINITY {
            return Exact::NegInf;
        }
        // A finite double has at most 767 significant decimal digits, so 1 + 800 digits in
        // exponent notation is its exact value (Rust formats with exact rounding).
        const PRECISION: i64 = 800;
        let s = format!("{:.*e}", PRECISION as usize, f.abs());
        let (mantissa, exp) = s.split_once('e').expect("exponent notation");
        let exp: i64 = exp.parse().expect("exponent");
        let digits: Vec<u8> = mantissa.bytes().filter(|c| *c != b'.').collect();
        Exact::from_digits(f.is_sign_negative(), &digits, exp - PRECISION)
    }

    /// Decodes an IEEE 754-2008 decimal128 (binary integer decimal encoding, as BSON stores it);
    /// `None` for NaN.
    pub(super) fn of_decimal(d: bson::Decimal128) -> Option<Exact> {
        let x = u128::from_le_bytes(d.bytes());
        let neg = x >> 127 == 1;
        match (x >> 122) & 0x1f {
            0x1f => return None,
            0x1e => return Some(if neg { Exact::NegInf } else { Exact::PosInf }),
            _ => {}
        }
        const MAX_COEFFICIENT: u128 = 10u128.pow(34) - 1;
        let (exp, coefficient) = if (x >> 125) & 0b11 == 0b11 {
            // The coefficient would be >= 2^113 > 10^34 - 1: non-canonical, which means zero.
            ((x >> 111) & 0x3fff, 0)
        } else {
            ((x >> 113) & 0x3fff, x & ((1u128 << 113) - 1))
        };
        let coefficient = if coefficient > MAX_COEFFICIENT {
            0
        } else {
            coefficient
        };
        let exp = exp as i64 - 6176;
        Some(Exact::from_digits(
            neg,
            coefficient.to_string().as_bytes(),
            exp,
        ))
    }
}
