//! Ordered keys over BSON values: `_id`s and unique-index entries sort in mongod's BSON order
//! (so `1`, `1.0` and `NumberLong(1)` are the same key, as on a real server).

use crate::compare::cmp_bson;
use bson::Bson;
use std::cmp::Ordering;

/// A document `_id` as a `BTreeMap` key.
#[derive(Debug, Clone)]
pub(crate) struct IdKey(pub Bson);

impl PartialEq for IdKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for IdKey {}
impl PartialOrd for IdKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for IdKey {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_bson(&self.0, &other.0)
    }
}

/// The values of one index entry, one per key-pattern field.
#[derive(Debug, Clone)]
pub(crate) struct IndexKey(pub Vec<Bson>);

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for IndexKey {}
impl PartialOrd for IndexKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for IndexKey {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(&other.0) {
            match cmp_bson(a, b) {
                Ordering::Equal => continue,
                o => return o,
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}
