//! Dotted-path access into documents and arrays (`a.b.0.c`), shared by the matcher, updates,
//! projection and sort.
//!
//! Reads never fail: a path that runs into a scalar is simply missing. Writes create
//! intermediate documents, pad arrays with `null` up to a numeric index (as mongod), and fail
//! with PathNotViable (28) when they would have to create a field inside a scalar or an array.
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document};

/// The value at a dotted path without array traversal (numeric components index arrays).
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let first = doc.get(parts.next()?)?;
    parts.try_fold(first, |cur, part| step(cur, part))
}

/// One component of a read: a field of a document or an index of an array.
fn step<'a>(cur: &'a Bson, part: &str) -> Option<&'a Bson> {
    match cur {
        Bson::Document(d) => d.get(part),
        Bson::Array(a) => a.get(array_index(part)?),
        _ => None,
    }
}

/// A path component that addresses an array element (`0`, `12`; not `-1`, `01` is accepted as mongod).
pub fn array_index(part: &str) -> Option<usize> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// PathNotViable as mongod words it for a write that cannot descend into `element`.
pub fn not_viable(field: &str, element_name: &str, element: &Bson) -> CmdError {
    let mut rendered = Document::new();
    rendered.insert(element_name, element.clone());
    CmdError::new(
        code::PATH_NOT_VIABLE,
        "PathNotViable",
        format!("Cannot create field '{field}' in element {rendered}"),
    )
}

/// Sets `value` at `parts`, creating what is missing. Returns the depth of the first component
/// that did not exist before (`None` when the leaf already existed and was replaced in place).
pub fn set_path(doc: &mut Document, parts: &[&str], value: Bson) -> CmdResult<Option<usize>> {
    set_in_doc(doc, parts, value, 0)
}

fn set_in_doc(
    doc: &mut Document,
    parts: &[&str],
    value: Bson,
    depth: usize,
) -> CmdResult<Option<usize>> {
    let key = parts[0];
    if parts.len() == 1 {
        // IndexMap keeps the position of an existing key: fields are updated in place.
        let existed = doc.insert(key, value).is_some();
        return Ok(if existed { None } else { Some(depth) });
    }
    match doc.get_mut(key) {
        None => {
            doc.insert(key, nested(&parts[1..], value));
            Ok(Some(depth))
        }
        Some(child) => set_in_value(child, key, &parts[1..], value, depth + 1),
    }
}

fn set_in_value(
    cur: &mut Bson,
    name: &str,
    parts: &[&str],
    value: Bson,
    depth: usize,
) -> CmdResult<Option<usize>> {
    match cur {
        Bson::Document(d) => set_in_doc(d, parts, value, depth),
        Bson::Array(arr) => {
            let Some(idx) = array_index(parts[0]) else {
                return Err(not_viable(parts[0], name, cur));
            };
            if idx < arr.len() {
                if parts.len() == 1 {
                    arr[idx] = value;
                    return Ok(None);
                }
                return set_in_value(&mut arr[idx], parts[0], &parts[1..], value, depth + 1);
            }
            arr.resize(idx, Bson::Null);
            arr.push(nested(&parts[1..], value));
            Ok(Some(depth))
        }
        other => Err(not_viable(parts[0], name, other)),
    }
}

/// `value` wrapped in one document per remaining component (`["b","c"], v` -> `{b: {c: v}}`).
fn nested(parts: &[&str], value: Bson) -> Bson {
    parts.iter().rev().fold(value, |acc, part| {
        let mut d = Document::new();
        d.insert(*part, acc);
        Bson::Document(d)
    })
}

/// Removes the value at `parts`; an array element becomes `null` (as `$unset` does on mongod).
/// Returns true when something changed. A path through a scalar is a no-op.
pub fn unset_path(doc: &mut Document, parts: &[&str]) -> bool {
    if parts.len() == 1 {
        return doc.remove(parts[0]).is_some();
    }
    match doc.get_mut(parts[0]) {
        Some(child) => unset_in_value(child, &parts[1..]),
        None => false,
    }
}

fn unset_in_value(cur: &mut Bson, parts: &[&str]) -> bool {
    match cur {
        Bson::Document(d) => unset_path(d, parts),
        Bson::Array(arr) => {
            let Some(slot) = array_index(parts[0]).and_then(|i| arr.get_mut(i)) else {
                return false;
            };
            if parts.len() == 1 {
                let changed = !matches!(slot, Bson::Null);
                *slot = Bson::Null;
                return changed;
            }
            unset_in_value(slot, &parts[1..])
        }
        _ => false,
    }
}

/// Mutable access to an existing value at `parts` (numeric components index arrays).
pub fn get_path_mut<'a>(doc: &'a mut Document, parts: &[&str]) -> Option<&'a mut Bson> {
    let (first, rest) = parts.split_first()?;
    let mut cur = doc.get_mut(*first)?;
    for part in rest {
        cur = match cur {
            Bson::Document(d) => d.get_mut(*part)?,
            Bson::Array(a) => a.get_mut(array_index(part)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn get_path_reads_nested_docs_and_array_indices() {
        let d = doc! {"a": {"b": [10, {"c": 5}]}, "x": 1};
        assert_eq!(get_path(&d, "a.b.0"), Some(&Bson::Int32(10)));
        assert_eq!(get_path(&d, "a.b.1.c"), Some(&Bson::Int32(5)));
        assert_eq!(get_path(&d, "a.b.c"), None);
        assert_eq!(get_path(&d, "x.y"), None);
        assert_eq!(get_path(&d, "missing"), None);
    }

    #[test]
    fn set_path_creates_documents_and_pads_arrays() {
        let mut d = doc! {"a": [1]};
        assert_eq!(
            set_path(&mut d, &["b", "c"], Bson::Int32(2)).unwrap(),
            Some(0)
        );
        assert_eq!(
            set_path(&mut d, &["a", "3"], Bson::Int32(4)).unwrap(),
            Some(1)
        );
        assert_eq!(d, doc! {"a": [1, null, null, 4], "b": {"c": 2}});
        assert_eq!(set_path(&mut d, &["a", "0"], Bson::Int32(9)).unwrap(), None);
        assert_eq!(d.get_array("a").unwrap()[0], Bson::Int32(9));
    }

    #[test]
    fn set_path_through_scalar_or_named_array_field_is_path_not_viable() {
        let mut d = doc! {"a": 1, "arr": [1]};
        assert_eq!(
            set_path(&mut d, &["a", "b"], Bson::Null).unwrap_err().code,
            28
        );
        assert_eq!(
            set_path(&mut d, &["arr", "x"], Bson::Null)
                .unwrap_err()
                .code,
            28
        );
    }

    #[test]
    fn unset_removes_fields_and_nulls_array_elements() {
        let mut d = doc! {"a": {"b": 1, "c": 2}, "arr": [1, 2]};
        assert!(unset_path(&mut d, &["a", "b"]));
        assert!(unset_path(&mut d, &["arr", "0"]));
        assert!(!unset_path(&mut d, &["a", "zz"]));
        assert_eq!(d, doc! {"a": {"c": 2}, "arr": [null, 2]});
    }
}
