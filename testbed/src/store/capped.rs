//! Capped collections (`create` with `capped: true, size, max`): inserts past `max` documents
//! or `size` bytes of data remove the oldest documents in insertion order. As on mongod since
//! 5.0 (SERVER-16049), each removal is an explicit delete in the oplog, so change streams report
//! it as a `delete` event.

use super::collection::Collection;
use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document};

/// `size` may not exceed 1 PB (mongod's limit).
const MAX_SIZE: i64 = 1 << 50;
/// `max` must be below 2^31; a `max` of zero or less means no document limit (stored as 2^31-1).
const MAX_DOCS_LIMIT: i64 = 1 << 31;
const NO_DOC_LIMIT: i64 = 0x7fff_ffff;

/// The limits of a capped collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Capped {
    pub size: u64,
    pub max: Option<u64>,
}

fn invalid_options(msg: &str) -> CmdError {
    CmdError::new(code::INVALID_OPTIONS, "InvalidOptions", msg)
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        Bson::Null | Bson::Undefined => false,
        _ => true,
    }
}

fn number(options: &Document, key: &str) -> CmdResult<Option<i64>> {
    match options.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int32(i)) => Ok(Some(i64::from(*i))),
        Some(Bson::Int64(i)) => Ok(Some(*i)),
        Some(Bson::Double(d)) => Ok(Some(*d as i64)),
        Some(other) => Err(CmdError::type_mismatch(format!(
            "BSON field 'create.{key}' is the wrong type '{}', expected types '[long, int, decimal, double]'",
            crate::matcher::type_name_of(other)
        ))),
    }
}

/// mongod's `appendNumber`: an int when it fits, else a long.
fn bson_number(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

/// Checks `capped`/`size`/`max` as mongod's `create` does and stores them as it lists them
/// (`capped: true, size, max?`; `capped: false` and its absence store nothing).
pub(crate) fn normalize(mut options: Document) -> CmdResult<Document> {
    let capped = options.get("capped").is_some_and(truthy);
    let size = number(&options, "size")?;
    let max = number(&options, "max")?;
    if capped && size.is_none() {
        return Err(invalid_options(
            "the 'size' field is required when 'capped' is true",
        ));
    }
    if !capped && (size.is_some() || max.is_some()) {
        return Err(invalid_options(
            "the 'capped' field needs to be true when either the 'size' or 'max' fields are present",
        ));
    }
    for k in ["capped", "size", "max"] {
        options.remove(k);
    }
    let Some(size) = size else {
        return Ok(options);
    };
    if size < 1 {
        return Err(CmdError::new(
            51024,
            "Location51024",
            format!("BSON field 'size' value must be >= 1, actual value '{size}'"),
        ));
    }
    if size > MAX_SIZE {
        return Err(CmdError::bad_value("size cannot exceed 1 PB"));
    }
    let max = match max {
        Some(m) if m >= MAX_DOCS_LIMIT => {
            return Err(CmdError::bad_value(
                "max in a capped collection has to be < 2^31 or not set",
            ))
        }
        Some(m) if m <= 0 => Some(NO_DOC_LIMIT),
        other => other,
    };
    let mut out = Document::new();
    out.insert("capped", true);
    out.insert("size", bson_number(size));
    if let Some(m) = max {
        out.insert("max", bson_number(m));
    }
    out.extend(options);
    Ok(out)
}

/// The limits stored in a collection's options (`None`: not capped).
pub(crate) fn from_options(options: &Document) -> Option<Capped> {
    if !options.get("capped").is_some_and(truthy) {
        return None;
    }
    let n = |k: &str| number(options, k).ok().flatten();
    Some(Capped {
        size: n("size")?.max(1) as u64,
        max: n("max").map(|m| m.max(0) as u64),
    })
}

impl Collection {
    /// The oldest documents to remove after an insert so the collection fits its limits
    /// (never the newest one, which was just inserted), in insertion order.
    pub fn over_cap(&self) -> Vec<Bson> {
        let Some(cap) = self.capped else {
            return Vec::new();
        };
        let docs_over = cap
            .max
            .map_or(0, |m| (self.docs.len() as u64).saturating_sub(m));
        let size_over = self.data_size.saturating_sub(cap.size);
        let (mut removed, mut saved) = (0u64, 0u64);
        let mut out = Vec::new();
        for id in self.order.iter().take(self.order.len().saturating_sub(1)) {
            if removed >= docs_over && saved >= size_over {
                break;
            }
            removed += 1;
            saved += self.docs.get(id).map_or(0, |s| u64::from(s.size));
            out.push(id.0.clone());
        }
        out
    }
}
