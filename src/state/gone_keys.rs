//! Documents a fetch looked for and did not find, until the stream says why they are gone.
//!
//! A fetch (re-reading a document from the source instead of applying a delta) finds nothing when
//! the document left its collection later in the stream: deleted, dropped, or renamed away with
//! its collection. The first two are exact to leave alone, but a rename is not: the target still
//! holds the older version, the rename carries it to the new name, and the changes the fetch
//! absorbed would be lost. So gone keys are remembered per collection; the event that explains
//! them resolves them (a delete or a newer full document of the key, a drop), and a rename hands
//! them over to the new name so the watcher re-reads them there. They are persisted with the
//! checkpoint, because the events that created them may already be behind it. Pure: no I/O.

use crate::source::translate::DocKey;
use bson::{doc, Document};
use std::collections::{BTreeMap, HashMap};

/// Gone keys per collection, each by its canonical bytes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GoneKeys {
    by_coll: BTreeMap<String, HashMap<DocKey, Document>>,
}

impl GoneKeys {
    pub fn is_empty(&self) -> bool {
        self.by_coll.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_coll.values().map(HashMap::len).sum()
    }

    /// A fetch of `key` in `coll` found no document.
    pub fn record(&mut self, coll: &str, key: Document) {
        self.by_coll
            .entry(coll.to_string())
            .or_default()
            .insert(DocKey::of(&key), key);
    }

    /// A later delete or full document of `key` was applied: its state no longer depends on
    /// the fetch.
    pub fn resolve(&mut self, coll: &str, key: &DocKey) {
        if let Some(keys) = self.by_coll.get_mut(coll) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_coll.remove(coll);
            }
        }
    }

    /// The collection was dropped: its documents are gone on the target too.
    pub fn drop_collection(&mut self, coll: &str) {
        self.by_coll.remove(coll);
    }

    pub fn clear(&mut self) {
        self.by_coll.clear();
    }

    /// The collection was renamed: its gone keys, to be re-read under the new name. They stay
    /// in the registry until the re-read succeeded (then [`GoneKeys::drop_collection`]), so a
    /// failed re-read loses none of them.
    pub fn keys_of(&self, coll: &str) -> Vec<Document> {
        self.by_coll
            .get(coll)
            .map(|keys| keys.values().cloned().collect())
            .unwrap_or_default()
    }

    /// As stored in the checkpoint: `[{collection, key}]`, sorted for stable output.
    pub fn to_docs(&self) -> Vec<Document> {
        let mut out = Vec::with_capacity(self.len());
        for (coll, keys) in &self.by_coll {
            let mut sorted: Vec<_> = keys.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (_, key) in sorted {
                out.push(doc! {"collection": coll.as_str(), "key": key.clone()});
            }
        }
        out
    }

    /// From the checkpoint's entries; malformed ones are skipped (the checkpoint is ours).
    pub fn from_docs(docs: &[Document]) -> Self {
        let mut out = Self::default();
        for d in docs {
            if let (Ok(coll), Ok(key)) = (d.get_str("collection"), d.get_document("key")) {
                out.record(coll, key.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_forgets_one_key_and_empty_collections() {
        let mut u = GoneKeys::default();
        u.record("a", doc! {"_id": 1});
        u.record("a", doc! {"_id": 2});
        u.record("a", doc! {"_id": 1});
        assert_eq!(u.len(), 2);
        u.resolve("a", &DocKey::of(&doc! {"_id": 1}));
        u.resolve("b", &DocKey::of(&doc! {"_id": 2}));
        assert_eq!(u.len(), 1);
        u.resolve("a", &DocKey::of(&doc! {"_id": 2}));
        assert!(u.is_empty());
    }

    #[test]
    fn keys_compare_by_type_as_well_as_value() {
        let mut u = GoneKeys::default();
        u.record("a", doc! {"_id": 1});
        u.resolve("a", &DocKey::of(&doc! {"_id": 1i64}));
        assert_eq!(u.len(), 1, "Int64 1 is another document than Int32 1");
    }

    #[test]
    fn keys_of_a_renamed_collection_stay_until_dropped() {
        let mut u = GoneKeys::default();
        u.record("a", doc! {"_id": 1});
        u.record("b", doc! {"_id": 2});
        assert_eq!(u.keys_of("a"), vec![doc! {"_id": 1}]);
        assert_eq!(u.keys_of("a"), vec![doc! {"_id": 1}], "reading keeps them");
        assert!(u.keys_of("c").is_empty());
        u.drop_collection("a");
        u.drop_collection("b");
        assert!(u.is_empty());
    }

    #[test]
    fn checkpoint_form_round_trips_and_skips_malformed_entries() {
        let mut u = GoneKeys::default();
        u.record("a", doc! {"_id": 2});
        u.record("a", doc! {"_id": 1, "sk": "x"});
        u.record("b", doc! {"_id": "k"});
        let docs = u.to_docs();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].get_str("collection").unwrap(), "a");
        let mut with_junk = docs.clone();
        with_junk.push(doc! {"collection": 5, "key": {"_id": 1}});
        with_junk.push(doc! {"collection": "c"});
        assert_eq!(GoneKeys::from_docs(&with_junk), u);
    }
}
