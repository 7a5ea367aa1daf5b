//! Collations (`collation` on `create`, indexes and CRUD commands): how strings compare.
//!
//! mongod compares with ICU. The testbed implements a documented subset, honestly:
//! - locale `"simple"`: binary comparison (the default without a collation);
//! - locales `"en"`, `"en_US"` and `"root"` (no tailoring): the root collation order for ASCII
//!   (whitespace < punctuation < symbols < digits < letters; `a < A < b < B` at strength 3) and
//!   Latin-1 letters with diacritics as their base letter plus an accent (secondary) difference;
//!   other characters compare by lowercase code point at the primary level;
//! - every documented field: `strength` 1-5, `caseLevel`, `caseFirst`, `numericOrdering`,
//!   `alternate: "shifted"` with `maxVariable`, `backwards` (French accent order).
//!
//! `normalization: true` and other locales are refused (BadValue) rather than ignored.
//!
//! Comparison goes through sort keys, as ICU and mongod's collated indexes do: [`Collation::key`]
//! returns bytes whose byte order is the collation order, so a collated value is just a BSON
//! value with each string replaced by its key ([`Collation::key_bson`]).

use crate::error::{CmdError, CmdResult};
use bson::{doc, Bson, Document};
use std::cmp::Ordering;

/// The ICU version mongod reports in a collation document (`version`).
pub const ICU_VERSION: &str = "57.1";

/// Locales served with the root (untailored) order.
const ROOT_LOCALES: &[&str] = &["en", "en_US", "root"];

/// The fields of a collation document, in the order mongod lists them.
const FIELDS: &[&str] = &[
    "locale",
    "caseLevel",
    "caseFirst",
    "strength",
    "numericOrdering",
    "alternate",
    "maxVariable",
    "normalization",
    "backwards",
    "version",
];

/// Whitespace, punctuation and symbols of ASCII in root collation order (the first six are
/// whitespace, then punctuation up to `%`, then symbols from `` ` ``).
const VARIABLE_ORDER: &str = "\t\n\x0B\x0C\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
const WHITESPACE_END: usize = 6;
const PUNCT_END: usize = 29;

/// A non-simple collation (locale `"simple"` is represented by `None` where one is optional).
#[derive(Debug, Clone, PartialEq)]
pub struct Collation {
    pub locale: String,
    pub case_level: bool,
    /// `"off"`, `"upper"` or `"lower"`.
    pub case_first: String,
    pub strength: i32,
    pub numeric_ordering: bool,
    /// `alternate: "shifted"`.
    pub shifted: bool,
    /// `maxVariable: "space"` (only whitespace is variable) instead of `"punct"`.
    pub max_space: bool,
    pub backwards: bool,
}

fn invalid(msg: impl Into<String>) -> CmdError {
    CmdError::bad_value(msg)
}

fn get_bool(spec: &Document, key: &str) -> CmdResult<bool> {
    match spec.get(key) {
        None => Ok(false),
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(_) => Err(CmdError::type_mismatch(format!(
            "BSON field 'collation.{key}' is the wrong type, expected type 'bool'"
        ))),
    }
}

fn get_enum(spec: &Document, key: &str, allowed: &[&str], default: &str) -> CmdResult<String> {
    match spec.get(key) {
        None => Ok(default.to_string()),
        Some(Bson::String(s)) if allowed.contains(&s.as_str()) => Ok(s.clone()),
        Some(Bson::String(s)) => Err(invalid(format!(
            "Enumeration value '{s}' for field 'collation.{key}' is not a valid value."
        ))),
        Some(_) => Err(CmdError::type_mismatch(format!(
            "BSON field 'collation.{key}' is the wrong type, expected type 'string'"
        ))),
    }
}

impl Collation {
    /// Parses a collation document; `Ok(None)` for `{locale: "simple"}`.
    pub fn parse(spec: &Document) -> CmdResult<Option<Collation>> {
        if let Some(k) = spec.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(CmdError::new(
                40415,
                "Location40415",
                format!("BSON field 'collation.{k}' is an unknown field."),
            ));
        }
        let locale = match spec.get("locale") {
            Some(Bson::String(s)) => s.clone(),
            Some(_) => {
                return Err(CmdError::type_mismatch(
                    "BSON field 'collation.locale' is the wrong type, expected type 'string'",
                ))
            }
            None => {
                return Err(CmdError::new(
                    40414,
                    "Location40414",
                    "BSON field 'collation.locale' is missing but a required field",
                ))
            }
        };
        if locale == "simple" {
            if spec.len() > 1 && spec.keys().any(|k| k != "locale" && k != "version") {
                return Err(invalid(
                    "If 'locale' is set to 'simple', no other fields may be set",
                ));
            }
            return Ok(None);
        }
        if !ROOT_LOCALES.contains(&locale.as_str()) {
            return Err(invalid(format!(
                "Field 'locale' is invalid in: {}: mongo-testbed implements the locales simple, {}",
                Bson::Document(spec.clone()),
                ROOT_LOCALES.join(", ")
            )));
        }
        let strength = match spec.get("strength") {
            None => 3,
            Some(v @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) => {
                let n = match v {
                    Bson::Int32(i) => f64::from(*i),
                    Bson::Int64(i) => *i as f64,
                    Bson::Double(d) => *d,
                    _ => unreachable!("matched a number"),
                };
                if n.fract() != 0.0 || !(1.0..=5.0).contains(&n) {
                    return Err(invalid(format!(
                        "Field 'strength' must be an integer 1 through 5. Got: {v}"
                    )));
                }
                n as i32
            }
            Some(_) => {
                return Err(CmdError::type_mismatch(
                    "BSON field 'collation.strength' is the wrong type, expected a number",
                ))
            }
        };
        if get_bool(spec, "normalization")? {
            return Err(invalid(
                "collation 'normalization: true' is not supported by mongo-testbed",
            ));
        }
        if let Some(v) = spec.get("version") {
            if v.as_str() != Some(ICU_VERSION) {
                return Err(invalid(format!(
                    "Field 'version' is invalid in: {}: the ICU version is {ICU_VERSION}",
                    Bson::Document(spec.clone())
                )));
            }
        }
        Ok(Some(Collation {
            locale,
            case_level: get_bool(spec, "caseLevel")?,
            case_first: get_enum(spec, "caseFirst", &["off", "upper", "lower"], "off")?,
            strength,
            numeric_ordering: get_bool(spec, "numericOrdering")?,
            shifted: get_enum(
                spec,
                "alternate",
                &["non-ignorable", "shifted"],
                "non-ignorable",
            )? == "shifted",
            max_space: get_enum(spec, "maxVariable", &["punct", "space"], "punct")? == "space",
            backwards: get_bool(spec, "backwards")?,
        }))
    }

    /// The full document mongod stores and lists (every field, defaults filled in).
    pub fn to_document(&self) -> Document {
        doc! {
            "locale": &self.locale,
            "caseLevel": self.case_level,
            "caseFirst": &self.case_first,
            "strength": self.strength,
            "numericOrdering": self.numeric_ordering,
            "alternate": if self.shifted { "shifted" } else { "non-ignorable" },
            "maxVariable": if self.max_space { "space" } else { "punct" },
            "normalization": false,
            "backwards": self.backwards,
            "version": ICU_VERSION,
        }
    }

    /// Compares two values with strings collated (documents and arrays recursively).
    pub fn cmp(&self, a: &Bson, b: &Bson) -> Ordering {
        crate::compare::cmp_bson(&self.key_bson(a), &self.key_bson(b))
    }

    /// `v` with every string (at any depth) replaced by its sort key, so that plain BSON order
    /// on the result is the collated order.
    pub fn key_bson(&self, v: &Bson) -> Bson {
        match v {
            Bson::String(s) => Bson::String(bytes_as_string(&self.key(s))),
            Bson::Symbol(s) => Bson::Symbol(bytes_as_string(&self.key(s))),
            Bson::Document(d) => Bson::Document(
                d.iter()
                    .map(|(k, v)| (k.clone(), self.key_bson(v)))
                    .collect(),
            ),
            Bson::Array(a) => Bson::Array(a.iter().map(|v| self.key_bson(v)).collect()),
            other => other.clone(),
        }
    }

    /// The sort key of `s`: levels separated by byte 1, every weight byte at least 2.
    pub fn key(&self, s: &str) -> Vec<u8> {
        let elems = self.elements(s);
        let mut out = Vec::with_capacity(s.len() * 4);
        for e in &elems {
            if let Some(p) = e.primary {
                push_weight(&mut out, p);
            }
        }
        let counted = || elems.iter().filter(|e| e.primary.is_some());
        if self.case_level {
            out.push(1);
            out.extend(counted().map(|e| self.case_weight(e.case)));
        }
        if self.strength >= 2 {
            out.push(1);
            let mut sec: Vec<u8> = counted().map(|e| e.secondary + 2).collect();
            if self.backwards {
                sec.reverse();
            }
            out.extend(sec);
        }
        if self.strength >= 3 {
            out.push(1);
            out.extend(counted().map(|e| self.case_weight(e.case)));
        }
        if self.strength >= 4 && self.shifted {
            out.push(1);
            for e in &elems {
                push_weight(&mut out, e.quaternary);
            }
        }
        if self.strength >= 5 {
            out.push(1);
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    fn case_weight(&self, case: Case) -> u8 {
        let w = match (case, self.case_first.as_str()) {
            (Case::None, _) => 0,
            (Case::Upper, "upper") | (Case::Lower, "off" | "lower") => 1,
            _ => 2,
        };
        w + 2
    }

    fn is_variable(&self, rank: usize) -> bool {
        self.shifted
            && if self.max_space {
                rank < WHITESPACE_END
            } else {
                rank < PUNCT_END
            }
    }

    /// The collation elements of `s` (control characters are ignorable and yield none).
    fn elements(&self, s: &str) -> Vec<Element> {
        let chars: Vec<char> = s.chars().collect();
        let mut out = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if self.numeric_ordering && c.is_ascii_digit() {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let run: String = chars[start..i].iter().collect();
                let digits = run.trim_start_matches('0');
                let digits = if digits.is_empty() { "0" } else { digits };
                // Marker, then the number of significant digits, then the digits: a shorter
                // number is smaller, equal lengths compare digit by digit.
                out.push(Element::base(DIGIT_BASE));
                out.push(Element::base(DIGIT_BASE + 16 + digits.len() as u32));
                for d in digits.bytes() {
                    out.push(Element::base(DIGIT_BASE + u32::from(d - b'0')));
                }
                continue;
            }
            i += 1;
            if c.is_control() && !VARIABLE_ORDER.contains(c) {
                continue;
            }
            if let Some(rank) = VARIABLE_ORDER.find(c) {
                let weight = VARIABLE_BASE + rank as u32;
                out.push(if self.is_variable(rank) {
                    Element {
                        primary: None,
                        secondary: 0,
                        case: Case::None,
                        quaternary: weight,
                    }
                } else {
                    Element::base(weight)
                });
                continue;
            }
            let (base, accent) = fold_latin1(c);
            let case = if base.is_uppercase() {
                Case::Upper
            } else if base.is_lowercase() {
                Case::Lower
            } else {
                Case::None
            };
            let lower = base.to_lowercase().next().unwrap_or(base);
            let primary = match lower {
                '0'..='9' => DIGIT_BASE + (lower as u32 - '0' as u32),
                'a'..='z' => LETTER_BASE + (lower as u32 - 'a' as u32),
                other => OTHER_BASE + other as u32,
            };
            out.push(Element {
                primary: Some(primary),
                secondary: accent,
                case,
                quaternary: QUATERNARY_MAX,
            });
        }
        out
    }
}

/// Primary weight ranges: variable characters, digits, ASCII letters, everything else.
const VARIABLE_BASE: u32 = 0x100;
const DIGIT_BASE: u32 = 0x200;
const LETTER_BASE: u32 = 0x300;
const OTHER_BASE: u32 = 0x1000;
/// Quaternary weight of a non-variable character (above every variable one, as in ICU).
const QUATERNARY_MAX: u32 = 0xFF_FFFF;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    None,
    Lower,
    Upper,
}

/// One collation element: primary weight (`None`: shifted away), accent, case, quaternary.
#[derive(Debug, Clone, Copy)]
struct Element {
    primary: Option<u32>,
    secondary: u8,
    case: Case,
    quaternary: u32,
}

impl Element {
    fn base(primary: u32) -> Element {
        Element {
            primary: Some(primary),
            secondary: 0,
            case: Case::None,
            quaternary: QUATERNARY_MAX,
        }
    }
}

/// A weight as three base-254 digits offset by 2 (so bytes 0 and 1 stay free as separators).
fn push_weight(out: &mut Vec<u8>, w: u32) {
    let w = w.min(254 * 254 * 254 - 1);
    out.push((w / (254 * 254)) as u8 + 2);
    out.push((w / 254 % 254) as u8 + 2);
    out.push((w % 254) as u8 + 2);
}

/// Key bytes as a string whose code points are the bytes: UTF-8 order is code point order, so
/// string comparison of the result is byte comparison of the key.
fn bytes_as_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A Latin-1 letter with a diacritic as `(base letter, accent rank)`; accent ranks follow the
/// root collation's secondary order (acute < grave < circumflex < ring < diaeresis < tilde <
/// cedilla). Any other character is itself with no accent.
fn fold_latin1(c: char) -> (char, u8) {
    // Each row lists the variants in accent order: acute, grave, circumflex, ring, diaeresis,
    // tilde ('\0' where the letter has none: it never matches, control characters are skipped).
    const TABLE: &[(&str, char)] = &[
        ("áàâåäã", 'a'),
        ("ÁÀÂÅÄÃ", 'A'),
        ("éèê\0ëẽ", 'e'),
        ("ÉÈÊ\0ËẼ", 'E'),
        ("íìî\0ïĩ", 'i'),
        ("ÍÌÎ\0ÏĨ", 'I'),
        ("óòô\0öõ", 'o'),
        ("ÓÒÔ\0ÖÕ", 'O'),
        ("úùûůüũ", 'u'),
        ("ÚÙÛŮÜŨ", 'U'),
        ("ýỳŷẙÿỹ", 'y'),
        ("ÝỲŶ\0ŸỸ", 'Y'),
        ("\0\0\0\0\0ñ", 'n'),
        ("\0\0\0\0\0Ñ", 'N'),
    ];
    match c {
        'ç' => return ('c', 7),
        'Ç' => return ('C', 7),
        _ => {}
    }
    for (variants, base) in TABLE {
        if let Some(pos) = variants.chars().position(|v| v == c) {
            return (*base, pos as u8 + 1);
        }
    }
    (c, 0)
}

/// `create`/`createIndexes` option: the stored form of `collation` (`None`: simple, so omitted).
pub fn normalize_option(v: &Bson) -> CmdResult<Option<Document>> {
    match v {
        Bson::Document(d) => Ok(Collation::parse(d)?.map(|c| c.to_document())),
        _ => Err(CmdError::type_mismatch(
            "BSON field 'collation' is the wrong type, expected type 'object'",
        )),
    }
}

/// The collation a stored options document (collection or index spec) carries.
pub fn from_options(options: &Document) -> Option<Collation> {
    options
        .get_document("collation")
        .ok()
        .and_then(|d| Collation::parse(d).ok().flatten())
}

/// Compares with an optional collation (`None`: binary).
pub fn cmp_with(c: Option<&Collation>, a: &Bson, b: &Bson) -> Ordering {
    match c {
        Some(c) => c.cmp(a, b),
        None => crate::compare::cmp_bson(a, b),
    }
}

/// True when `v` holds a string at any depth (only those compare differently under a collation).
pub fn has_string(v: &Bson) -> bool {
    match v {
        Bson::String(_) | Bson::Symbol(_) => true,
        Bson::Document(d) => d.values().any(has_string),
        Bson::Array(a) => a.iter().any(has_string),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
