//! Unique indexes the copy deferred. A copy reads a moving collection, so the copied set is not
//! one instant of the source and a unique index built during it could refuse a document that
//! was valid at every instant of the source. They are kept in the checkpoint until the tail has
//! caught up, then built (see `tail::ddl_barrier`), following the DDL the tail applies in
//! between ([`after_ddl`]). Pure: no I/O.

use crate::source::translate::DdlOp;
use crate::state::index_list::{follow_drops_and_renames, IndexEntry};
use bson::Document;
use serde::{Deserialize, Serialize};

/// One deferred index, stored in the checkpoint as `{collection, spec}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingIndex {
    pub collection: String,
    /// The spec as `createIndexes` takes it.
    pub spec: Document,
}

impl PendingIndex {
    /// `collection.name`, as `/status` lists it.
    pub fn label(&self) -> String {
        format!(
            "{}.{}",
            self.collection,
            self.spec.get_str("name").unwrap_or("")
        )
    }
}

impl IndexEntry for PendingIndex {
    fn collection(&self) -> &str {
        &self.collection
    }
    fn set_collection(&mut self, to: &str) {
        self.collection = to.to_string();
    }
    fn index_name(&self) -> &str {
        self.spec.get_str("name").unwrap_or("")
    }
}

/// Adds the `specs` of `collection` not pending yet (a resumed copy lists them again).
pub fn defer(pending: &mut Vec<PendingIndex>, collection: &str, specs: Vec<Document>) {
    for spec in specs {
        let entry = PendingIndex {
            collection: collection.to_string(),
            spec,
        };
        if !pending.contains(&entry) {
            pending.push(entry);
        }
    }
}

/// Follows one DDL op of the source, so an index is never built where the source no longer has
/// it: a dropped index or collection is forgotten, a renamed collection's indexes move to the
/// new name (the replaced target's are gone), a `collMod` hiding or unhiding one is kept in its
/// spec.
pub fn after_ddl(pending: &mut Vec<PendingIndex>, op: &DdlOp) {
    if follow_drops_and_renames(pending, op) {
        return;
    }
    let DdlOp::Modify { coll, changes } = op else {
        return;
    };
    let Ok(index) = changes.get_document("index") else {
        return;
    };
    let Ok(hidden) = index.get_bool("hidden") else {
        return;
    };
    for p in pending.iter_mut().filter(|p| p.collection == *coll) {
        let hit = index.get_str("name").is_ok_and(|n| n == p.index_name())
            || index.get_document("keyPattern").ok() == p.spec.get_document("key").ok();
        if hit {
            match hidden {
                true => p.spec.insert("hidden", true),
                false => p.spec.remove("hidden"),
            };
        }
    }
}

/// The `/status` labels of `pending`.
pub fn labels(pending: &[PendingIndex]) -> Vec<String> {
    pending.iter().map(PendingIndex::label).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn deferring_twice_keeps_one_entry_and_labels_name_the_index() {
        let mut pending = Vec::new();
        let spec = doc! {"key": {"email": 1}, "name": "email_1", "unique": true};
        defer(&mut pending, "users", vec![spec.clone()]);
        defer(&mut pending, "users", vec![spec.clone()]);
        defer(&mut pending, "orders", vec![spec]);
        assert_eq!(pending.len(), 2);
        assert_eq!(labels(&pending), vec!["users.email_1", "orders.email_1"]);
    }

    #[test]
    fn later_ddl_drops_moves_and_hides_deferred_indexes() {
        let spec = |n: &str| doc! {"key": {n: 1}, "name": format!("{n}_1"), "unique": true};
        let mut pending = Vec::new();
        for c in ["a", "b", "c", "d"] {
            defer(&mut pending, c, vec![spec("e"), spec("f")]);
        }
        let ops = [
            DdlOp::DropIndexes {
                coll: "a".into(),
                names: vec!["e_1".into()],
            },
            DdlOp::Drop { coll: "b".into() },
            DdlOp::Rename {
                from: "c".into(),
                to: "d".into(),
            },
            DdlOp::Modify {
                coll: "d".into(),
                changes: doc! {"index": {"name": "f_1", "hidden": true}},
            },
        ];
        for op in &ops {
            after_ddl(&mut pending, op);
        }
        assert_eq!(labels(&pending), vec!["a.f_1", "d.e_1", "d.f_1"]);
        assert_eq!(pending[2].spec.get_bool("hidden"), Ok(true));
        assert!(!pending[1].spec.contains_key("hidden"));
        after_ddl(&mut pending, &DdlOp::DropDatabase);
        assert!(pending.is_empty());
    }

    #[test]
    fn stored_shape_is_collection_and_spec() {
        let p = PendingIndex {
            collection: "c".into(),
            spec: doc! {"name": "a_1"},
        };
        assert_eq!(
            bson::to_document(&p).unwrap(),
            doc! {"collection": "c", "spec": {"name": "a_1"}}
        );
    }
}
