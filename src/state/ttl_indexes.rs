//! The source's TTL values, recorded because the backup's indexes do not carry them.
//!
//! A TTL index on the backup would expire documents on its own: when replication lags past a
//! document's TTL while the source keeps refreshing it, the backup deletes it and the later
//! `$set` (no upsert) matches nothing, so it stays missing. mongod's own secondaries never run
//! the TTL monitor (the primary's deletes replicate); the backup follows that rule: every index
//! is built without `expireAfterSeconds` (`apply::ddl::clean_specs`) and the source's deletes
//! arrive as events. The value is kept here, in the checkpoint (`ttl_indexes`), following the
//! source's DDL (index drops, collection drops and renames, `collMod`), so a restore or a
//! failover puts it back with [`restore_command`] (docs/OPERATIONS.md). Pure: no I/O.

use crate::source::translate::DdlOp;
use crate::state::index_list::{follow_drops_and_renames, IndexEntry};
use bson::{doc, Bson, Document};
use serde::{Deserialize, Serialize};

/// One TTL index of the source, as stored in the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtlIndex {
    pub collection: String,
    /// Empty when only the key pattern is known (a `collMod` by `keyPattern`).
    pub name: String,
    /// Empty when only the name is known (a `collMod` by `name` made the index a TTL index).
    pub key: Document,
    pub expire_after_seconds: i64,
}

impl IndexEntry for TtlIndex {
    fn collection(&self) -> &str {
        &self.collection
    }
    fn set_collection(&mut self, to: &str) {
        self.collection = to.to_string();
    }
    fn index_name(&self) -> &str {
        &self.name
    }
}

impl TtlIndex {
    fn is(&self, coll: &str, name: Option<&str>, key: Option<&Document>) -> bool {
        self.collection == coll
            && (name.is_some_and(|n| !n.is_empty() && n == self.name)
                || key.is_some_and(|k| !k.is_empty() && *k == self.key))
    }
}

/// A number of seconds (an integer, a long or a double, as servers store it).
pub fn seconds(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

/// Records (or updates) one index's TTL.
fn put(
    list: &mut Vec<TtlIndex>,
    coll: &str,
    name: Option<&str>,
    key: Option<&Document>,
    secs: i64,
) {
    match list.iter_mut().find(|t| t.is(coll, name, key)) {
        Some(t) => {
            t.expire_after_seconds = secs;
            if t.name.is_empty() {
                t.name = name.unwrap_or_default().to_string();
            }
            if t.key.is_empty() {
                t.key = key.cloned().unwrap_or_default();
            }
        }
        None => list.push(TtlIndex {
            collection: coll.to_string(),
            name: name.unwrap_or_default().to_string(),
            key: key.cloned().unwrap_or_default(),
            expire_after_seconds: secs,
        }),
    }
}

/// Records the TTL of each of `specs` (source index specs of `coll`) that has one.
pub fn record(list: &mut Vec<TtlIndex>, coll: &str, specs: &[Document]) {
    for spec in specs {
        if let Some(secs) = spec.get("expireAfterSeconds").and_then(seconds) {
            let name = spec.get_str("name").ok();
            put(list, coll, name, spec.get_document("key").ok(), secs);
        }
    }
}

/// Follows one DDL op of the source: records new TTLs, forgets dropped indexes and
/// collections, moves a renamed collection's entries (dropping the replaced target's).
pub fn after_ddl(list: &mut Vec<TtlIndex>, op: &DdlOp) {
    if follow_drops_and_renames(list, op) {
        return;
    }
    match op {
        DdlOp::CreateIndexes { coll, indexes } => record(list, coll, indexes),
        DdlOp::Modify { coll, changes } => {
            let Ok(index) = changes.get_document("index") else {
                return;
            };
            if let Some(secs) = index.get("expireAfterSeconds").and_then(seconds) {
                let (name, key) = (
                    index.get_str("name").ok(),
                    index.get_document("keyPattern").ok(),
                );
                put(list, coll, name, key, secs);
            }
        }
        _ => {}
    }
}

/// The `collMod` that puts `t`'s TTL back on a restored database.
pub fn restore_command(t: &TtlIndex) -> Document {
    let index = match t.name.is_empty() {
        false => doc! {"name": &t.name, "expireAfterSeconds": t.expire_after_seconds},
        true => doc! {"keyPattern": &t.key, "expireAfterSeconds": t.expire_after_seconds},
    };
    doc! {"collMod": &t.collection, "index": index}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttl(coll: &str, name: &str, secs: i64) -> TtlIndex {
        TtlIndex {
            collection: coll.into(),
            name: name.into(),
            key: doc! {"at": 1},
            expire_after_seconds: secs,
        }
    }

    #[test]
    fn specs_with_a_ttl_are_recorded_and_ddl_keeps_the_record_exact() {
        let mut list = Vec::new();
        record(
            &mut list,
            "s",
            &[
                doc! {"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 3600},
                doc! {"key": {"x": 1}, "name": "x_1"},
            ],
        );
        assert_eq!(list, vec![ttl("s", "at_1", 3600)]);
        let modify = |changes| DdlOp::Modify {
            coll: "s".into(),
            changes,
        };
        after_ddl(
            &mut list,
            &modify(doc! {"index": {"name": "at_1", "expireAfterSeconds": 60}}),
        );
        after_ddl(
            &mut list,
            &modify(doc! {"index": {"name": "at_1", "hidden": true}}),
        );
        assert_eq!(list, vec![ttl("s", "at_1", 60)]);
        after_ddl(
            &mut list,
            &DdlOp::Rename {
                from: "s".into(),
                to: "t".into(),
            },
        );
        assert_eq!(list, vec![ttl("t", "at_1", 60)]);
        assert_eq!(
            restore_command(&list[0]),
            doc! {"collMod": "t", "index": {"name": "at_1", "expireAfterSeconds": 60i64}}
        );
        after_ddl(
            &mut list,
            &DdlOp::DropIndexes {
                coll: "t".into(),
                names: vec!["at_1".into()],
            },
        );
        assert!(list.is_empty());
    }

    #[test]
    fn a_drop_or_a_rename_over_a_collection_forgets_its_ttls() {
        let mut list = vec![ttl("a", "at_1", 1), ttl("b", "at_1", 2)];
        after_ddl(
            &mut list,
            &DdlOp::Rename {
                from: "a".into(),
                to: "b".into(),
            },
        );
        assert_eq!(
            list,
            vec![ttl("b", "at_1", 1)],
            "the replaced b's entry is gone"
        );
        after_ddl(&mut list, &DdlOp::Drop { coll: "b".into() });
        assert!(list.is_empty());
        let mut list = vec![ttl("a", "at_1", 1)];
        after_ddl(&mut list, &DdlOp::DropDatabase);
        assert!(list.is_empty());
    }
}
