//! Collection and index DDL: create, drop, dropDatabase, rename, createIndexes, dropIndexes.

use super::index::{Index, ID_INDEX};
use super::oplog::Op;
use super::txn::{validate_ns, Txn};
use super::{Namespace, Store};
use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document};

fn index_not_found(msg: String) -> CmdError {
    CmdError::new(code::INDEX_NOT_FOUND, "IndexNotFound", msg)
}

fn cannot_drop_id() -> CmdError {
    CmdError::new(
        code::INVALID_OPTIONS,
        "InvalidOptions",
        "cannot drop _id index",
    )
}

/// Stores `collation` as mongod lists it (every field filled in); `{locale: "simple"}` is the
/// default and is not stored.
fn normalize_collation(mut options: Document) -> CmdResult<Document> {
    let Some(v) = options.get("collation") else {
        return Ok(options);
    };
    if options.contains_key("viewOn") {
        return Err(CmdError::new(
            code::INVALID_OPTIONS,
            "InvalidOptions",
            "a collation on a view is not supported by mongo-testbed",
        ));
    }
    match crate::collation::normalize_option(v)? {
        Some(full) => options.insert("collation", full),
        None => options.remove("collation"),
    };
    Ok(options)
}

impl Store {
    /// The collation `ns` compares strings with by default (`None`: binary or no collection).
    pub fn default_collation(&self, ns: &Namespace) -> Option<crate::collation::Collation> {
        self.data.read().coll(ns).and_then(|c| c.collation.clone())
    }

    pub(super) fn create_collection_impl(
        &self,
        ns: &Namespace,
        options: Document,
    ) -> CmdResult<()> {
        super::views::check_view_options(&options)?;
        super::validation::check_options(&options)?;
        let options = normalize_collation(options)?;
        let options = super::clustered::normalize(options)?;
        let options = super::capped::normalize(options)?;
        let mut txn = Txn::begin(self);
        if txn.data.coll(ns).is_some() {
            return Err(CmdError::new(
                code::NAMESPACE_EXISTS,
                "NamespaceExists",
                format!("Collection {ns} already exists."),
            ));
        }
        txn.ensure_coll(ns, options)?;
        Ok(())
    }

    pub(super) fn drop_collection_impl(&self, ns: &Namespace) -> CmdResult<bool> {
        let mut txn = Txn::begin(self);
        Ok(txn.drop_coll(ns))
    }

    pub(super) fn drop_database_impl(&self, db: &str) -> CmdResult<()> {
        let mut txn = Txn::begin(self);
        let names: Vec<String> = txn
            .data
            .dbs
            .get(db)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        if names.is_empty() {
            return Ok(());
        }
        for name in names {
            txn.drop_coll(&Namespace::new(db, name));
        }
        txn.data.dbs.remove(db);
        txn.log(&Namespace::new(db, ""), None, Op::DropDatabase);
        Ok(())
    }

    pub(super) fn rename_collection_impl(
        &self,
        from: &Namespace,
        to: &Namespace,
        drop_target: bool,
    ) -> CmdResult<()> {
        validate_ns(to)?;
        if from == to {
            return Err(CmdError::new(
                code::ILLEGAL_OPERATION,
                "IllegalOperation",
                "Can't rename a collection to itself",
            ));
        }
        let mut txn = Txn::begin(self);
        if txn.data.coll(from).is_none() {
            return Err(CmdError::namespace_not_found(format!(
                "Source collection {from} does not exist"
            )));
        }
        let mut dropped = None;
        if let Some(target) = txn.data.coll(to) {
            if !drop_target {
                return Err(CmdError::new(
                    code::NAMESPACE_EXISTS,
                    "NamespaceExists",
                    "target namespace exists",
                ));
            }
            dropped = Some(target.uuid.clone());
            txn.data.remove_coll(to);
        }
        let c = txn.data.remove_coll(from).expect("checked");
        let uuid = c.uuid.clone();
        txn.data.insert_coll(to, c);
        txn.log(
            from,
            Some(uuid),
            Op::Rename {
                to: to.clone(),
                drop_target: dropped,
            },
        );
        Ok(())
    }

    pub(super) fn create_indexes_impl(
        &self,
        ns: &Namespace,
        specs: Vec<Document>,
    ) -> CmdResult<(i32, i32, bool)> {
        // Index specs are checked before the collection is touched; the collection's default
        // collation (for specs without one) is known once it is locked.
        for spec in &specs {
            Index::from_spec(spec, None)?;
        }
        let mut txn = Txn::begin(self);
        if txn
            .data
            .coll(ns)
            .is_some_and(|c| c.options.contains_key("viewOn"))
        {
            return Err(super::views::not_on_view(ns));
        }
        let created = txn.ensure_coll(ns, Document::new())?;
        let default = txn.data.coll(ns).expect("ensured").collation.clone();
        let parsed = specs
            .iter()
            .map(|s| Index::from_spec(s, default.as_ref()))
            .collect::<CmdResult<Vec<_>>>()?;
        let before = txn.data.coll(ns).expect("ensured").indexes.len() as i32;
        for idx in parsed {
            let c = txn.data.coll_mut(ns).expect("ensured");
            if !c.check_new_index(&idx)? {
                continue;
            }
            let idx = c.build_index(&ns.to_string(), idx)?;
            let spec = idx.spec.clone();
            c.indexes.push(idx);
            let uuid = c.uuid.clone();
            txn.log(ns, Some(uuid), Op::CreateIndex { spec });
        }
        let after = txn.data.coll(ns).expect("ensured").indexes.len() as i32;
        Ok((before, after, created))
    }

    pub(super) fn drop_indexes_impl(&self, ns: &Namespace, index: &Bson) -> CmdResult<i32> {
        let mut txn = Txn::begin(self);
        let c = txn
            .data
            .coll(ns)
            .ok_or_else(|| CmdError::namespace_not_found(format!("ns not found {ns}")))?;
        let was = c.indexes.len() as i32;
        let names: Vec<String> = match index {
            Bson::String(s) if s == "*" => c.indexes.iter().skip(1).map(|i| i.name.clone()).collect(),
            Bson::String(s) if s == ID_INDEX => return Err(cannot_drop_id()),
            Bson::String(s) => match c.find_index(s) {
                Some(_) => vec![s.clone()],
                None => return Err(index_not_found(format!("index not found with name [{s}]"))),
            },
            Bson::Document(key) => match c.indexes.iter().find(|i| &i.key == key) {
                Some(i) if i.name == ID_INDEX => return Err(cannot_drop_id()),
                Some(i) => vec![i.name.clone()],
                None => return Err(index_not_found(format!("can't find index with key: {index}"))),
            },
            Bson::Array(a) => {
                let mut names = Vec::new();
                for v in a {
                    let Bson::String(s) = v else {
                        return Err(CmdError::type_mismatch("dropIndexes index names must be strings"));
                    };
                    if s == ID_INDEX {
                        return Err(cannot_drop_id());
                    }
                    if c.find_index(s).is_none() {
                        return Err(index_not_found(format!("index not found with name [{s}]")));
                    }
                    names.push(s.clone());
                }
                names
            }
            other => {
                return Err(CmdError::type_mismatch(format!(
                    "BSON field 'dropIndexes.index' is the wrong type '{:?}', expected types '[string, object, array]'",
                    other.element_type()
                )))
            }
        };
        for name in names {
            let c = txn.data.coll_mut(ns).expect("checked");
            let Some(i) = c.find_index(&name) else {
                continue;
            };
            let spec = c.indexes.remove(i).spec;
            let uuid = c.uuid.clone();
            txn.log(ns, Some(uuid), Op::DropIndex { spec });
        }
        Ok(was)
    }
}

impl Txn<'_> {
    /// Drops one collection, logging `drop`; false when it did not exist.
    fn drop_coll(&mut self, ns: &Namespace) -> bool {
        match self.data.remove_coll(ns) {
            Some(c) => {
                self.log(ns, Some(c.uuid), Op::Drop);
                true
            }
            None => false,
        }
    }
}
