//! Reading command arguments the way mongod accepts them (any numeric type for counts, the
//! collection name as the command's first value).

use crate::error::{CmdError, CmdResult};
use crate::store::Namespace;
use bson::{Bson, Document};

/// The namespace named by the command's first field (`{insert: "coll", ...}`).
pub(super) fn namespace(db: &str, cmd: &Document, name: &str) -> CmdResult<Namespace> {
    match cmd.get(name) {
        Some(Bson::String(coll)) if !coll.is_empty() => Ok(Namespace::new(db, coll.clone())),
        _ => Err(CmdError::new(
            crate::error::code::INVALID_NAMESPACE,
            "InvalidNamespace",
            format!("collection name has invalid type or is empty in '{name}'"),
        )),
    }
}

/// An optional integer argument given as int32, int64 or an integral double.
pub(super) fn opt_i64(cmd: &Document, key: &str) -> CmdResult<Option<i64>> {
    match cmd.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int32(n)) => Ok(Some(*n as i64)),
        Some(Bson::Int64(n)) => Ok(Some(*n)),
        Some(Bson::Double(f)) if f.fract() == 0.0 => Ok(Some(*f as i64)),
        Some(other) => Err(CmdError::type_mismatch(format!(
            "BSON field '{key}' is the wrong type '{:?}', expected a number",
            other.element_type()
        ))),
    }
}

/// An optional non-negative count (`batchSize`, `skip`...).
pub(super) fn opt_count(cmd: &Document, key: &str) -> CmdResult<Option<usize>> {
    match opt_i64(cmd, key)? {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as usize)),
        Some(n) => Err(CmdError::bad_value(format!(
            "{key} value must be non-negative, but received: {n}"
        ))),
    }
}

/// An optional sub-document argument (`filter`, `sort`, `projection`...); null counts as absent.
pub(super) fn opt_doc<'a>(cmd: &'a Document, key: &str) -> CmdResult<Option<&'a Document>> {
    match cmd.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d)),
        Some(_) => Err(CmdError::type_mismatch(format!(
            "BSON field '{key}' must be an object"
        ))),
    }
}

/// A required array of documents (`documents`, `updates`, `deletes`, `pipeline`...).
pub(super) fn doc_array(cmd: &Document, key: &str) -> CmdResult<Vec<Document>> {
    let arr = match cmd.get(key) {
        Some(Bson::Array(a)) => a,
        _ => {
            return Err(CmdError::failed_to_parse(format!(
                "BSON field '{key}' is missing or not an array"
            )))
        }
    };
    arr.iter()
        .map(|v| match v {
            Bson::Document(d) => Ok(d.clone()),
            _ => Err(CmdError::type_mismatch(format!(
                "every element of '{key}' must be an object"
            ))),
        })
        .collect()
}

/// `ordered` (default true).
pub(super) fn ordered(cmd: &Document) -> bool {
    cmd.get_bool("ordered").unwrap_or(true)
}

/// A truthy flag given as bool or number (`upsert`, `multi`, `new`, `remove`...).
pub(super) fn flag(d: &Document, key: &str) -> bool {
    match d.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(n)) => *n != 0,
        Some(Bson::Int64(n)) => *n != 0,
        Some(Bson::Double(f)) => *f != 0.0,
        _ => false,
    }
}

/// The `cursor.batchSize` of `aggregate`/`listCollections`/`listIndexes`.
pub(super) fn cursor_batch_size(cmd: &Document) -> CmdResult<Option<usize>> {
    match opt_doc(cmd, "cursor")? {
        Some(c) => opt_count(c, "batchSize"),
        None => Ok(None),
    }
}
