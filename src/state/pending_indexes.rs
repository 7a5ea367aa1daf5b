//! Unique indexes the copy deferred. A copy reads a moving collection, so the copied set is not
//! one instant of the source and a unique index built during it could refuse a document that
//! was valid at every instant of the source. They are kept in the checkpoint until the tail has
//! caught up, then built (see `tail::ddl_barrier`). Pure: no I/O.

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
