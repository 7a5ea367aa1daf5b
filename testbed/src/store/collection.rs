//! One collection: documents keyed by `_id` in BSON order (field order kept), its indexes, and
//! the enforcement of unique indexes on every write.

use super::index::{Index, ID_INDEX};
use super::keys::{IdKey, IndexKey};
use crate::error::{code, CmdError, CmdResult};
use bson::{Binary, Bson, Document};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// A stored document and its BSON size (kept for `listDatabases` sizes without re-encoding).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub doc: Arc<Document>,
    pub size: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub uuid: Binary,
    pub options: Document,
    /// Capped collections: the limits (`options.capped/size/max`).
    pub capped: Option<super::capped::Capped>,
    /// Capped collections only: `_id`s in insertion order (the order removals follow).
    pub order: VecDeque<IdKey>,
    /// The default collation (`options.collation`); `None`: binary.
    pub collation: Option<crate::collation::Collation>,
    pub docs: BTreeMap<IdKey, Stored>,
    /// `_id_` first, then in creation order.
    pub indexes: Vec<Index>,
    pub data_size: u64,
}

/// A fresh random UUID (subtype 4), as collections carry.
pub(crate) fn new_uuid() -> Binary {
    let bytes: [u8; 16] = rand::random();
    Binary {
        subtype: bson::spec::BinarySubtype::Uuid,
        bytes: bytes.to_vec(),
    }
}

impl Collection {
    pub fn new(uuid: Binary, options: Document) -> Collection {
        let collation = crate::collation::from_options(&options);
        let mut id_index = Index::id_index(collation.as_ref());
        id_index.spec = super::clustered::clustered_id_spec(&options, id_index.spec);
        Collection {
            uuid,
            capped: super::capped::from_options(&options),
            order: VecDeque::new(),
            indexes: vec![id_index],
            collation,
            options,
            docs: BTreeMap::new(),
            data_size: 0,
        }
    }

    /// `changeStreamPreAndPostImages: {enabled: true}`: updates, replaces and deletes record
    /// the document's pre-image.
    pub fn records_pre_images(&self) -> bool {
        self.options
            .get_document("changeStreamPreAndPostImages")
            .is_ok_and(|d| d.get_bool("enabled") == Ok(true))
    }

    pub fn get(&self, id: &Bson) -> Option<&Stored> {
        self.docs.get(&IdKey(id.clone()))
    }

    /// E11000 when `doc` would collide in a unique index with a document other than `except`
    /// (`_id` collisions are checked by the caller for inserts).
    pub fn check_unique(
        &self,
        ns: &dyn std::fmt::Display,
        doc: &Document,
        except: Option<&IdKey>,
    ) -> CmdResult<()> {
        for idx in self.indexes.iter().filter(|i| i.unique) {
            for k in idx.keys_of(doc) {
                if let Some(owner) = idx.entries.get(&idx.entry_key(&k)) {
                    if Some(owner) != except {
                        return Err(CmdError::duplicate_key(
                            &ns.to_string(),
                            &idx.name,
                            idx.key.clone(),
                            idx.key_value(&k),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// E11000 for an insert whose `_id` already exists.
    pub fn duplicate_id(ns: &dyn std::fmt::Display, id: &Bson) -> CmdError {
        let mut kv = Document::new();
        kv.insert("_id", id.clone());
        CmdError::duplicate_key(&ns.to_string(), ID_INDEX, bson::doc! {"_id": 1}, kv)
    }

    /// Stores (inserts or replaces) a document that passed the checks, maintaining indexes.
    pub fn put(&mut self, doc: Arc<Document>, size: u32) {
        let id = IdKey(doc.get("_id").cloned().unwrap_or(Bson::Null));
        if self.detach(&id).is_none() && self.capped.is_some() {
            self.order.push_back(id.clone());
        }
        for idx in self.indexes.iter_mut().filter(|i| i.unique) {
            for k in idx.entry_keys(&doc) {
                idx.entries.insert(k, id.clone());
            }
        }
        self.data_size += u64::from(size);
        self.docs.insert(id, Stored { doc, size });
    }

    /// Removes a document and its index entries; returns it.
    pub fn remove(&mut self, id: &IdKey) -> Option<Stored> {
        let old = self.detach(id)?;
        if let Some(i) = self.order.iter().position(|k| k == id) {
            self.order.remove(i);
        }
        Some(old)
    }

    /// Removes a document and its index entries, keeping its place in insertion order.
    fn detach(&mut self, id: &IdKey) -> Option<Stored> {
        let old = self.docs.remove(id)?;
        for idx in self.indexes.iter_mut().filter(|i| i.unique) {
            for k in idx.entry_keys(&old.doc) {
                if idx.entries.get(&k) == Some(id) {
                    idx.entries.remove(&k);
                }
            }
        }
        self.data_size -= u64::from(old.size);
        Some(old)
    }

    pub fn find_index(&self, name: &str) -> Option<usize> {
        self.indexes.iter().position(|i| i.name == name)
    }

    /// Builds the entries of a new unique index over the existing documents (E11000 on duplicates).
    pub fn build_index(&self, ns: &str, mut idx: Index) -> CmdResult<Index> {
        if idx.unique {
            let mut entries: BTreeMap<IndexKey, IdKey> = BTreeMap::new();
            for (id, s) in &self.docs {
                for k in idx.keys_of(&s.doc) {
                    let entry = idx.entry_key(&k);
                    if entries.contains_key(&entry) {
                        return Err(CmdError::duplicate_key(
                            ns,
                            &idx.name,
                            idx.key.clone(),
                            idx.key_value(&k),
                        ));
                    }
                    entries.insert(entry, id.clone());
                }
            }
            idx.entries = entries;
        }
        Ok(idx)
    }

    /// Adds an index after the conflict checks of `createIndexes`; `Ok(false)` when an identical one exists.
    pub fn check_new_index(&self, idx: &Index) -> CmdResult<bool> {
        if let Some(existing) = self.indexes.iter().find(|i| i.name == idx.name) {
            if existing.key != idx.key {
                return Err(CmdError::new(
                    code::INDEX_KEY_SPECS_CONFLICT,
                    "IndexKeySpecsConflict",
                    format!(
                        "An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: {}, existing index: {}",
                        Bson::Document(idx.spec.clone()),
                        Bson::Document(existing.spec.clone())
                    ),
                ));
            }
            if !existing.same_options(idx) {
                return Err(CmdError::new(
                    code::INDEX_OPTIONS_CONFLICT,
                    "IndexOptionsConflict",
                    format!(
                        "An equivalent index already exists with the same name but different options. Requested index: {}, existing index: {}",
                        Bson::Document(idx.spec.clone()),
                        Bson::Document(existing.spec.clone())
                    ),
                ));
            }
            return Ok(false);
        }
        if let Some(existing) = self.indexes.iter().find(|i| i.key == idx.key) {
            let msg = if existing.same_options(idx) {
                format!(
                    "Index already exists with a different name: {}",
                    existing.name
                )
            } else {
                format!(
                    "An existing index has the same key pattern but different options. Requested index: {}, existing index: {}",
                    Bson::Document(idx.spec.clone()),
                    Bson::Document(existing.spec.clone())
                )
            };
            return Err(CmdError::new(
                code::INDEX_OPTIONS_CONFLICT,
                "IndexOptionsConflict",
                msg,
            ));
        }
        Ok(true)
    }
}
