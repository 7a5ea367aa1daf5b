//! Index specifications as `createIndexes` takes them and `listIndexes` shows them, and the
//! entries of unique indexes (the only ones the testbed has to enforce).

use super::keys::{IdKey, IndexKey};
use crate::collation::Collation;
use crate::error::{CmdError, CmdResult};
use crate::matcher::Matcher;
use bson::{doc, Bson, Document};
use std::collections::BTreeMap;

/// `CannotCreateIndex` (not in `error::code`).
const CANNOT_CREATE_INDEX: i32 = 67;

/// Name of the index every collection has.
pub(crate) const ID_INDEX: &str = "_id_";

/// One index of a collection.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    pub name: String,
    pub key: Document,
    pub unique: bool,
    sparse: bool,
    partial: Option<Matcher>,
    /// Entries compare strings with this collation (`None`: binary).
    pub collation: Option<Collation>,
    /// The normalised spec (`{v, key, name, ...options}`) as `listIndexes` returns it.
    pub spec: Document,
    /// Unique indexes only: entry -> the `_id` of the document holding it.
    pub entries: BTreeMap<IndexKey, IdKey>,
}

impl Index {
    /// The `_id_` index. Binary uniqueness of `_id` is the document map itself (no entries);
    /// under a collection collation ("abc" and "ABC" the same key at strength 2) the index
    /// keeps collated entries like any unique index.
    pub fn id_index(collation: Option<&Collation>) -> Index {
        let mut spec = id_index_spec();
        if let Some(c) = collation {
            spec.insert("collation", c.to_document());
        }
        Index {
            name: ID_INDEX.into(),
            key: doc! {"_id": 1},
            unique: collation.is_some(),
            sparse: false,
            partial: None,
            collation: collation.cloned(),
            spec,
            entries: BTreeMap::new(),
        }
    }

    /// Parses and normalises a `createIndexes` spec; without a `collation` field the index takes
    /// `default` (the collection's), and `{locale: "simple"}` makes it binary.
    pub fn from_spec(spec: &Document, default: Option<&Collation>) -> CmdResult<Index> {
        let key = match spec.get("key") {
            Some(Bson::Document(k)) if !k.is_empty() => k.clone(),
            Some(Bson::Document(_)) => {
                return Err(CmdError::new(
                    CANNOT_CREATE_INDEX,
                    "CannotCreateIndex",
                    "Index keys cannot be empty.",
                ))
            }
            Some(_) => return Err(CmdError::type_mismatch("The field 'key' must be an object")),
            None => {
                return Err(CmdError::failed_to_parse(
                    "The 'key' field is a required property of an index specification",
                ))
            }
        };
        let name = match spec.get("name") {
            Some(Bson::String(n)) if !n.is_empty() => n.clone(),
            Some(Bson::String(_)) => {
                return Err(CmdError::bad_value("The index name cannot be empty"))
            }
            Some(_) => return Err(CmdError::type_mismatch("The field 'name' must be a string")),
            None => generate_name(&key),
        };
        let mut norm = doc! {"v": 2, "key": key.clone(), "name": name.clone()};
        let mut unique = false;
        let mut sparse = false;
        let mut partial = None;
        let mut index_collation = default.cloned();
        for (k, v) in spec {
            match k.as_str() {
                "key" | "name" | "v" | "ns" => {}
                "collation" => {
                    index_collation = match v {
                        Bson::Document(d) => Collation::parse(d)?,
                        _ => {
                            return Err(CmdError::type_mismatch(
                                "The field 'collation' must be an object",
                            ))
                        }
                    };
                }
                "unique" => {
                    unique = bool_option(v);
                    if unique {
                        norm.insert("unique", true);
                    }
                }
                "sparse" => {
                    sparse = bool_option(v);
                    norm.insert("sparse", sparse);
                }
                "partialFilterExpression" => {
                    let Bson::Document(f) = v else {
                        return Err(CmdError::type_mismatch(
                            "partialFilterExpression must be an object",
                        ));
                    };
                    partial = Some(Matcher::new(f)?);
                    norm.insert(k.clone(), v.clone());
                }
                _ => {
                    norm.insert(k.clone(), v.clone());
                }
            }
        }
        if name == ID_INDEX {
            if key != doc! {"_id": 1} || unique {
                return Err(CmdError::bad_value(
                    "The index name '_id_' is reserved for the _id index",
                ));
            }
            return Ok(Index::id_index(index_collation.as_ref()));
        }
        if let Some(c) = &index_collation {
            norm.insert("collation", c.to_document());
        }
        Ok(Index {
            name,
            key,
            unique,
            sparse,
            partial,
            collation: index_collation,
            spec: norm,
            entries: BTreeMap::new(),
        })
    }

    /// Same spec apart from the name (`v` and `name` ignored).
    pub fn same_options(&self, other: &Index) -> bool {
        let strip = |d: &Document| {
            let mut d = d.clone();
            d.remove("name");
            d.remove("v");
            d
        };
        strip(&self.spec) == strip(&other.spec)
    }

    /// The entries `doc` contributes (none when sparse/partial exclude it; arrays are multikey).
    pub fn keys_of(&self, doc: &Document) -> Vec<IndexKey> {
        if let Some(p) = &self.partial {
            if !p.matches(doc) {
                return Vec::new();
            }
        }
        let mut per_field: Vec<Vec<Bson>> = Vec::with_capacity(self.key.len());
        let mut any_present = false;
        for field in self.key.keys() {
            let mut vals = Vec::new();
            collect_path(doc, field, &mut vals);
            if vals.is_empty() {
                vals.push(Bson::Null);
            } else {
                any_present = true;
            }
            per_field.push(vals);
        }
        if self.sparse && !any_present {
            return Vec::new();
        }
        let mut out: Vec<Vec<Bson>> = vec![Vec::new()];
        for vals in per_field {
            let mut next = Vec::with_capacity(out.len() * vals.len());
            for prefix in &out {
                for v in &vals {
                    let mut k = prefix.clone();
                    k.push(v.clone());
                    next.push(k);
                }
            }
            out = next;
        }
        let mut keys: Vec<IndexKey> = out.into_iter().map(IndexKey).collect();
        if keys.len() > 1 {
            keys.sort();
            keys.dedup();
        }
        keys
    }

    /// An entry as stored: strings replaced by their collation keys when the index has one.
    pub fn entry_key(&self, raw: &IndexKey) -> IndexKey {
        match &self.collation {
            Some(c) => IndexKey(raw.0.iter().map(|v| c.key_bson(v)).collect()),
            None => raw.clone(),
        }
    }

    /// The stored entries `doc` contributes (collated, deduplicated).
    pub fn entry_keys(&self, doc: &Document) -> Vec<IndexKey> {
        let mut keys: Vec<IndexKey> = self
            .keys_of(doc)
            .iter()
            .map(|k| self.entry_key(k))
            .collect();
        if keys.len() > 1 {
            keys.sort();
            keys.dedup();
        }
        keys
    }

    /// The `keyValue` document of an E11000 for `key`.
    pub fn key_value(&self, key: &IndexKey) -> Document {
        self.key
            .keys()
            .cloned()
            .zip(key.0.iter().cloned())
            .collect()
    }
}

/// `{v: 2, key: {_id: 1}, name: "_id_"}`.
pub(crate) fn id_index_spec() -> Document {
    doc! {"v": 2, "key": {"_id": 1}, "name": ID_INDEX}
}

fn bool_option(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        Bson::Null => false,
        _ => true,
    }
}

/// mongod's default index name: `a_1_b_-1`.
pub(crate) fn generate_name(key: &Document) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Bson::Int32(i) => i.to_string(),
                Bson::Int64(i) => i.to_string(),
                Bson::Double(d) if d.fract() == 0.0 => format!("{}", *d as i64),
                Bson::Double(d) => d.to_string(),
                Bson::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}_{v}")
        })
        .collect();
    parts.join("_")
}

/// Values at a dotted path for indexing: arrays contribute each element (multikey), and
/// arrays of documents are traversed.
fn collect_path(doc: &Document, path: &str, out: &mut Vec<Bson>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(v) = doc.get(head) else { return };
    collect_value(v, rest, out);
}

fn collect_value(v: &Bson, rest: Option<&str>, out: &mut Vec<Bson>) {
    match (v, rest) {
        (Bson::Array(a), None) if a.is_empty() => out.push(Bson::Undefined),
        (Bson::Array(a), None) => out.extend(a.iter().cloned()),
        (v, None) => out.push(v.clone()),
        (Bson::Document(d), Some(r)) => collect_path(d, r, out),
        (Bson::Array(a), Some(r)) => {
            let (head, tail) = match r.split_once('.') {
                Some((h, t)) => (h, Some(t)),
                None => (r, None),
            };
            if let Ok(i) = head.parse::<usize>() {
                if let Some(e) = a.get(i) {
                    collect_value(e, tail, out);
                }
                return;
            }
            for e in a {
                if let Bson::Document(d) = e {
                    collect_path(d, r, out);
                }
            }
        }
        _ => {}
    }
}
