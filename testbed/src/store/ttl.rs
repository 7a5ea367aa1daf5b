//! TTL indexes as mongod's TTL monitor applies them: a single-field index with
//! `expireAfterSeconds` expires a document once its indexed value, a date, is older than that
//! many seconds (an array: its earliest date; no date: never). A pass deletes every expired
//! document as an ordinary delete (in the oplog, so change streams show it); the monitor runs a
//! pass every `ttlMonitorSleepSecs` (the task is in `lib.rs`, the parameter in `params`).

use super::index::Index;
use super::txn::Txn;
use super::{Namespace, Store};
use bson::{Bson, DateTime};

/// The `expireAfterSeconds` of a TTL index (single field, a non-negative number), if it is one.
pub(crate) fn ttl_seconds(idx: &Index) -> Option<i64> {
    if idx.key.len() != 1 || idx.name == super::index::ID_INDEX {
        return None;
    }
    super::coll_mod::seconds(idx.spec.get("expireAfterSeconds")?).filter(|s| *s >= 0)
}

/// Whether the document with index keys `keys` has expired at `now` under `secs`: its earliest
/// date plus `secs` is in the past. Pure.
pub(crate) fn expired(keys: &[Bson], secs: i64, now: DateTime) -> bool {
    let earliest = keys
        .iter()
        .filter_map(|k| match k {
            Bson::DateTime(d) => Some(d.timestamp_millis()),
            _ => None,
        })
        .min();
    earliest.is_some_and(|t| t.saturating_add(secs.saturating_mul(1000)) < now.timestamp_millis())
}

impl Store {
    /// One TTL monitor pass at `now`: deletes every expired document of every TTL index
    /// (views and documents without a date are left alone). Returns how many were deleted.
    pub fn expire_ttl(&self, now: DateTime) -> u64 {
        let mut txn = Txn::begin(self);
        let mut doomed = Vec::new();
        for (db, colls) in &txn.data.dbs {
            for (name, c) in colls {
                if c.options.contains_key("viewOn") {
                    continue;
                }
                for idx in &c.indexes {
                    let Some(secs) = ttl_seconds(idx) else {
                        continue;
                    };
                    for (id, s) in &c.docs {
                        let keys: Vec<Bson> = idx
                            .keys_of(&s.doc)
                            .into_iter()
                            .filter_map(|k| k.0.into_iter().next())
                            .collect();
                        if expired(&keys, secs, now) {
                            doomed.push((Namespace::new(db, name), id.clone()));
                        }
                    }
                }
            }
        }
        let mut n = 0;
        for (ns, id) in doomed {
            // A document two TTL indexes expire is deleted once.
            if txn.delete_doc(&ns, &id).is_some() {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn at(ms: i64) -> Bson {
        Bson::DateTime(DateTime::from_millis(ms))
    }

    #[test]
    fn a_date_expires_after_the_seconds_and_arrays_by_their_earliest_date() {
        let now = DateTime::from_millis(100_000);
        assert!(expired(&[at(39_999)], 60, now));
        assert!(
            !expired(&[at(40_000)], 60, now),
            "exactly at the limit: not yet"
        );
        assert!(
            expired(&[at(99_000), at(1_000)], 60, now),
            "earliest date counts"
        );
        assert!(!expired(&[Bson::from("2020-01-01"), Bson::Null], 0, now));
        assert!(!expired(&[], 0, now));
    }

    #[test]
    fn only_single_field_indexes_with_seconds_are_ttl() {
        let ttl =
            Index::from_spec(&doc! {"key": {"at": 1}, "expireAfterSeconds": 5}, None).unwrap();
        assert_eq!(ttl_seconds(&ttl), Some(5));
        let compound = Index::from_spec(
            &doc! {"key": {"a": 1, "b": 1}, "expireAfterSeconds": 5},
            None,
        )
        .unwrap();
        assert_eq!(ttl_seconds(&compound), None);
        let plain = Index::from_spec(&doc! {"key": {"at": 1}}, None).unwrap();
        assert_eq!(ttl_seconds(&plain), None);
    }
}
