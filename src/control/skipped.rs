//! Documents an operator skipped (`POST /api/v1/failed/skip`): the backup keeps whatever
//! version it has, so `verify` reports each as a known difference instead of failing on it.
//! Kept in the checkpoint (`skipped`); a later write of the same document (a newer event
//! reaching the writer, a resync of its collection) ends the exception.

use crate::control::parked::ParkedEntry;
use crate::source::translate::DocKey;
use bson::{Bson, DateTime, Document};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One skipped document as the checkpoint keeps it (its key, no field values).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedEntry {
    pub collection: String,
    pub key: Document,
    pub skipped_at: DateTime,
}

/// The skipped documents, by collection and key.
#[derive(Debug, Default)]
pub struct Skipped(BTreeMap<(String, DocKey), SkippedEntry>);

impl Skipped {
    /// Adopts the entries of a checkpoint.
    pub fn restore(&mut self, entries: &[SkippedEntry]) {
        self.0 = entries
            .iter()
            .map(|e| ((e.collection.clone(), DocKey::of(&e.key)), e.clone()))
            .collect();
    }

    /// Whether the document is skipped.
    pub fn contains(&self, key: &(String, DocKey)) -> bool {
        self.0.contains_key(key)
    }

    /// What the checkpoint stores.
    pub fn entries(&self) -> Vec<SkippedEntry> {
        self.0.values().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `entry`'s document was skipped now.
    pub fn add(&mut self, entry: &ParkedEntry) {
        let skipped = SkippedEntry {
            collection: entry.collection.clone(),
            key: entry.key.clone(),
            skipped_at: DateTime::now(),
        };
        self.0
            .insert((entry.collection.clone(), DocKey::of(&entry.key)), skipped);
    }

    /// A new write of `(collection, key)` is being applied: it is no longer an exception.
    /// True when it was one (the writer then re-reads the whole document from the source: a
    /// delta over the backup's stale or missing version would not make it current).
    pub fn written(&mut self, collection: &str, key: &DocKey) -> bool {
        !self.0.is_empty()
            && self
                .0
                .remove(&(collection.to_string(), key.clone()))
                .is_some()
    }

    /// `collection` was resynced from the source: none of its documents is an exception.
    /// True when some were.
    pub fn resynced(&mut self, collection: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(c, _), _| c != collection);
        self.0.len() != before
    }
}

/// The `_id`s (canonical Extended JSON) of `entries` in `collection`: what `verify` accepts
/// as known differences there.
pub fn known_ids(entries: &[SkippedEntry], collection: &str) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|e| e.collection == collection)
        .filter_map(|e| e.key.get("_id"))
        .map(canonical)
        .collect()
}

/// `id` as canonical Extended JSON text (types included: `1` and `1.0` differ).
pub fn canonical(id: &Bson) -> String {
    id.clone().into_canonical_extjson().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn entry(collection: &str, id: i32) -> ParkedEntry {
        ParkedEntry {
            collection: collection.into(),
            key: doc! {"_id": id},
            code: Some(11000),
            reason: "dup".into(),
            first_seen: DateTime::now(),
            last_seen: DateTime::now(),
            attempts: 1,
            waiting: 0,
        }
    }

    #[test]
    fn skipped_documents_end_with_a_new_write_or_a_resync_and_survive_in_entries() {
        let mut s = Skipped::default();
        s.add(&entry("users", 1));
        s.add(&entry("users", 2));
        s.add(&entry("items", 1));
        let ids = known_ids(&s.entries(), "users");
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&canonical(&Bson::Int32(1))));
        assert!(!ids.contains(&canonical(&Bson::Int64(1))), "types count");
        assert!(s.written("users", &DocKey::of(&doc! {"_id": 1})));
        assert!(!s.written("users", &DocKey::of(&doc! {"_id": 1})), "once");
        assert_eq!(known_ids(&s.entries(), "users").len(), 1);
        s.resynced("users");
        assert!(known_ids(&s.entries(), "users").is_empty());
        let mut restored = Skipped::default();
        restored.restore(&s.entries());
        assert_eq!(restored.entries(), s.entries());
        assert_eq!(known_ids(&restored.entries(), "items").len(), 1);
    }
}
