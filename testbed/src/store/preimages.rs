//! Change-stream pre-images, as mongod keeps them in `config.system.preimages` (6.0+): while a
//! collection has `changeStreamPreAndPostImages: {enabled: true}`, every update, replace and
//! delete records the document as it was, keyed by the collection's UUID and the change's
//! cluster time. They go when the collection is dropped, when the oplog no longer holds their
//! change (older than its oldest entry) and, if set, after `changeStreamOptions.preAndPostImages
//! .expireAfterSeconds`. Held in memory only: after a `--dbpath` restart none are available.

use bson::{Binary, Document};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `(collection UUID bytes, cluster time as ts_key)`, the `_id` of a `config.system.preimages` entry.
type Key = (Vec<u8>, u64);

#[derive(Default)]
pub(crate) struct PreImages {
    by_key: BTreeMap<Key, Arc<Document>>,
    /// The same entries by cluster time (unique per change), for removal by age.
    by_ts: BTreeMap<u64, Vec<u8>>,
}

impl PreImages {
    pub fn record(&mut self, uuid: &Binary, ts: u64, doc: Arc<Document>) {
        self.by_key.insert((uuid.bytes.clone(), ts), doc);
        self.by_ts.insert(ts, uuid.bytes.clone());
    }

    pub fn get(&self, uuid: &Binary, ts: u64) -> Option<Arc<Document>> {
        self.by_key.get(&(uuid.bytes.clone(), ts)).cloned()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Removes every pre-image of the collection `uuid` (it was dropped).
    pub fn drop_collection(&mut self, uuid: &Binary) {
        let from = (uuid.bytes.clone(), 0);
        let to = (uuid.bytes.clone(), u64::MAX);
        let gone: Vec<u64> = self.by_key.range(from..=to).map(|((_, t), _)| *t).collect();
        for t in gone {
            self.by_ts.remove(&t);
            self.by_key.remove(&(uuid.bytes.clone(), t));
        }
    }

    /// Removes the pre-images of changes before cluster time `ts` (as `ts_key`).
    pub fn remove_before(&mut self, ts: u64) {
        while let Some(entry) = self.by_ts.first_entry() {
            if *entry.key() >= ts {
                break;
            }
            let (t, uuid) = entry.remove_entry();
            self.by_key.remove(&(uuid, t));
        }
    }
}

/// The cluster time (as `ts_key`) before which pre-images expire after `secs` seconds, at
/// `now` (seconds since the epoch: cluster times carry the wall clock's seconds).
pub(crate) fn expiry_cutoff(now: u32, secs: i64) -> u64 {
    let time = i64::from(now).saturating_sub(secs).max(0) as u64;
    time << 32
}

/// The wall clock in seconds, for `expiry_cutoff`.
pub(crate) fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn uuid(b: u8) -> Binary {
        Binary {
            subtype: bson::spec::BinarySubtype::Uuid,
            bytes: vec![b; 16],
        }
    }

    #[test]
    fn drop_removes_only_that_collection() {
        let mut p = PreImages::default();
        p.record(&uuid(1), 10, Arc::new(doc! {"_id": 1}));
        p.record(&uuid(2), 11, Arc::new(doc! {"_id": 2}));
        p.record(&uuid(1), 12, Arc::new(doc! {"_id": 3}));
        p.drop_collection(&uuid(1));
        assert_eq!(p.len(), 1);
        assert!(p.get(&uuid(1), 10).is_none());
        assert_eq!(p.get(&uuid(2), 11).unwrap().get_i32("_id"), Ok(2));
        p.remove_before(12);
        assert_eq!(p.len(), 0);
        assert!(p.by_ts.is_empty());
    }

    #[test]
    fn remove_before_keeps_newer() {
        let mut p = PreImages::default();
        for t in 1..=5 {
            p.record(&uuid(1), t, Arc::new(doc! {"t": t as i64}));
        }
        p.remove_before(3);
        assert!(p.get(&uuid(1), 2).is_none());
        assert!(p.get(&uuid(1), 3).is_some());
        assert_eq!(p.len(), 3);
        assert_eq!(expiry_cutoff(100, 40), 60 << 32);
    }

    #[test]
    fn oplog_truncation_removes_the_pre_images_of_dropped_entries() {
        use crate::store::{DeleteStatement, Namespace, Store, StoreOptions};
        let store = Store::open(StoreOptions {
            dbpath: None,
            oplog_max_entries: 3,
        })
        .unwrap();
        let ns = Namespace::new("db", "c");
        store
            .create_collection(
                &ns,
                doc! {"changeStreamPreAndPostImages": {"enabled": true}},
            )
            .unwrap();
        let docs = (0..5).map(|i| doc! {"_id": i}).collect();
        store.insert(&ns, docs, true);
        for i in 0..5 {
            let del = DeleteStatement {
                filter: doc! {"_id": i},
                limit_one: true,
                collation: None,
            };
            store.delete(&ns, &[del], true);
        }
        assert_eq!(store.log.lock().pre_images.len(), 3, "one per delete held");
        let uuid = store.list_collections("db")[0].uuid.clone();
        let held = store.read_oplog(0, 10).entries;
        let pres: Vec<_> = held
            .iter()
            .map(|e| store.pre_image(&uuid, e.ts).map(|d| (*d).clone()))
            .collect();
        assert_eq!(
            pres,
            [
                Some(doc! {"_id": 2}),
                Some(doc! {"_id": 3}),
                Some(doc! {"_id": 4})
            ]
        );
    }
}
