//! Sort specifications (`{a: 1, "b.c": -1}`) compared in BSON order.
//!
//! As on mongod, a missing field sorts as null, and a field holding an array sorts by its
//! smallest element ascending and by its largest element descending (paths fan out through
//! arrays of documents the same way).
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

use crate::collation::{cmp_with, Collation};
use crate::error::{CmdError, CmdResult};
use crate::matcher::path_values;
use bson::{Bson, Document};
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct SortSpec {
    keys: Vec<(String, bool)>,
    /// Strings sort with this collation (`None`: binary).
    collation: Option<Collation>,
}

impl SortSpec {
    /// Parses `{field: 1 | -1, ...}`; any other direction is an error as on mongod.
    pub fn new(spec: &Document) -> CmdResult<Self> {
        let mut keys = Vec::new();
        for (k, v) in spec {
            let asc = match v {
                Bson::Int32(1) | Bson::Int64(1) => true,
                Bson::Int32(-1) | Bson::Int64(-1) => false,
                Bson::Double(d) if *d == 1.0 => true,
                Bson::Double(d) if *d == -1.0 => false,
                Bson::Document(d) if d.contains_key("$meta") => {
                    return Err(CmdError::bad_value(format!(
                        "$meta sort by {v} is not supported"
                    )));
                }
                _ => {
                    return Err(CmdError::new(
                        15975,
                        "Location15975",
                        "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                    ))
                }
            };
            keys.push((k.clone(), asc));
        }
        Ok(SortSpec {
            keys,
            collation: None,
        })
    }

    /// The same spec sorting strings with `collation`.
    pub fn with_collation(mut self, collation: Option<&Collation>) -> Self {
        self.collation = collation.cloned();
        self
    }

    /// True when the spec has no keys (natural order).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        for (path, asc) in &self.keys {
            let c = self.collation.as_ref();
            let ka = sort_key(a, path, *asc, c);
            let kb = sort_key(b, path, *asc, c);
            let o = cmp_with(c, &ka, &kb);
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

/// The value a document sorts by for one key: min (ascending) or max (descending) of what the path reaches.
fn sort_key(doc: &Document, path: &str, asc: bool, c: Option<&Collation>) -> Bson {
    let mut candidates: Vec<Bson> = Vec::new();
    for v in path_values(doc, path) {
        match v {
            None => candidates.push(Bson::Null),
            Some(Bson::Array(items)) if items.is_empty() => candidates.push(Bson::Undefined),
            Some(Bson::Array(items)) => candidates.extend(items.iter().cloned()),
            Some(other) => candidates.push(other.clone()),
        }
    }
    let pick = if asc {
        Ordering::Less
    } else {
        Ordering::Greater
    };
    candidates
        .into_iter()
        .reduce(|best, v| {
            if cmp_with(c, &v, &best) == pick {
                v
            } else {
                best
            }
        })
        .unwrap_or(Bson::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn sorted(spec: Document, mut docs: Vec<Document>) -> Vec<i32> {
        let s = SortSpec::new(&spec).unwrap();
        docs.sort_by(|a, b| s.compare(a, b));
        docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
    }

    #[test]
    fn multi_key_with_missing_as_null() {
        let docs = vec![
            doc! {"_id": 1, "a": 2, "b": 1},
            doc! {"_id": 2, "a": 1, "b": 5},
            doc! {"_id": 3, "b": 0},
            doc! {"_id": 4, "a": 2, "b": 3},
        ];
        assert_eq!(
            sorted(doc! {"a": 1, "b": -1}, docs.clone()),
            vec![3, 2, 4, 1]
        );
        assert_eq!(sorted(doc! {"a": -1, "b": 1}, docs), vec![1, 4, 2, 3]);
    }

    #[test]
    fn arrays_sort_by_min_ascending_and_max_descending() {
        let docs = vec![
            doc! {"_id": 1, "a": [1, 10]},
            doc! {"_id": 2, "a": 5},
            doc! {"_id": 3, "a": [3, 4]},
        ];
        assert_eq!(sorted(doc! {"a": 1}, docs.clone()), vec![1, 3, 2]);
        assert_eq!(sorted(doc! {"a": -1}, docs), vec![1, 2, 3]);
    }

    #[test]
    fn invalid_direction_is_rejected() {
        assert_eq!(SortSpec::new(&doc! {"a": 2}).unwrap_err().code, 15975);
        assert!(SortSpec::new(&doc! {"a": "x"}).is_err());
    }
}
