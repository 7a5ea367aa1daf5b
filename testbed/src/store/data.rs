//! The databases and their collections, and how a committed oplog entry changes them (the
//! same function rebuilds the data when the journal is replayed).

use super::collection::{new_uuid, Collection};
use super::index::Index;
use super::keys::IdKey;
use super::oplog::{Op, OplogEntry};
use super::size::doc_size;
use super::Namespace;
use bson::{Binary, Bson, Document};
use std::collections::BTreeMap;

/// Every database: name -> collection name -> collection.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub dbs: BTreeMap<String, BTreeMap<String, Collection>>,
}

impl Data {
    pub fn coll(&self, ns: &Namespace) -> Option<&Collection> {
        self.dbs.get(&ns.db)?.get(&ns.coll)
    }

    pub fn coll_mut(&mut self, ns: &Namespace) -> Option<&mut Collection> {
        self.dbs.get_mut(&ns.db)?.get_mut(&ns.coll)
    }

    pub fn insert_coll(&mut self, ns: &Namespace, coll: Collection) {
        self.dbs
            .entry(ns.db.clone())
            .or_default()
            .insert(ns.coll.clone(), coll);
    }

    /// Removes a collection (and its database when it was the last one).
    pub fn remove_coll(&mut self, ns: &Namespace) -> Option<Collection> {
        let db = self.dbs.get_mut(&ns.db)?;
        let c = db.remove(&ns.coll);
        if db.is_empty() {
            self.dbs.remove(&ns.db);
        }
        c
    }

    fn coll_or_create(&mut self, ns: &Namespace, uuid: &Option<Binary>) -> &mut Collection {
        if self.coll(ns).is_none() {
            let c = Collection::new(uuid.clone().unwrap_or_else(new_uuid), Document::new());
            self.insert_coll(ns, c);
        }
        self.coll_mut(ns).expect("just created")
    }

    /// Applies a committed entry during recovery (live writes already did the same through
    /// `Collection` before logging).
    pub fn apply(&mut self, e: &OplogEntry) {
        match &e.op {
            Op::Insert(d) | Op::Replace(d) | Op::Update { post: d, .. } => {
                let size = doc_size(d) as u32;
                self.coll_or_create(&e.ns, &e.uuid).put(d.clone(), size);
            }
            Op::Delete { id } => {
                if let Some(c) = self.coll_mut(&e.ns) {
                    c.remove(&IdKey(id.clone()));
                }
            }
            Op::Create { options } => {
                if self.coll(&e.ns).is_none() {
                    let c =
                        Collection::new(e.uuid.clone().unwrap_or_else(new_uuid), options.clone());
                    self.insert_coll(&e.ns, c);
                }
            }
            Op::CreateIndex { spec } => {
                let ns = e.ns.to_string();
                let c = self.coll_or_create(&e.ns, &e.uuid);
                if let Ok(idx) = Index::from_spec(spec, None).and_then(|i| c.build_index(&ns, i)) {
                    if c.find_index(&idx.name).is_none() {
                        c.indexes.push(idx);
                    }
                }
            }
            Op::DropIndex { spec } => {
                if let (Some(c), Some(Bson::String(name))) =
                    (self.coll_mut(&e.ns), spec.get("name"))
                {
                    if let Some(i) = c.find_index(name) {
                        c.indexes.remove(i);
                    }
                }
            }
            Op::Drop => {
                self.remove_coll(&e.ns);
            }
            Op::Rename { to, .. } => {
                if let Some(c) = self.remove_coll(&e.ns) {
                    self.remove_coll(to);
                    self.insert_coll(to, c);
                }
            }
            Op::DropDatabase => {
                self.dbs.remove(&e.ns.db);
            }
            Op::CollMod { options, desc, .. } => {
                if let Some(c) = self.coll_mut(&e.ns) {
                    c.options = options.clone();
                    super::coll_mod::replay_index(&mut c.indexes, desc);
                }
            }
        }
    }
}
