//! The two identities the pipeline compares by hand everywhere: a point in the source's history
//! ([`ClusterTime`]) and a document ([`DocKey`]). Pure: no I/O.

use bson::{Bson, Document, RawDocument, Timestamp};
use std::cmp::Ordering;
use std::sync::Arc;

/// A source cluster time (an oplog position): ordered by seconds, then increment, as the
/// server orders them. `bson::Timestamp` has no order of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterTime(pub Timestamp);

impl ClusterTime {
    pub fn timestamp(self) -> Timestamp {
        self.0
    }
}

impl From<Timestamp> for ClusterTime {
    fn from(t: Timestamp) -> Self {
        ClusterTime(t)
    }
}

impl Ord for ClusterTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.time, self.0.increment).cmp(&(other.0.time, other.0.increment))
    }
}

impl PartialOrd for ClusterTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A collection's identity (`collectionUUID` of an event, `info.uuid` of `listCollections`):
/// the 16 bytes of its UUID, held inline (one per event, no allocation). A value that is no
/// 16-byte binary counts as no UUID, as on servers that send none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionUuid([u8; 16]);

impl CollectionUuid {
    pub fn from_raw(value: bson::RawBsonRef<'_>) -> Option<CollectionUuid> {
        match value {
            bson::RawBsonRef::Binary(b) => b.bytes.try_into().ok().map(CollectionUuid),
            _ => None,
        }
    }

    pub fn of(value: &Bson) -> Option<CollectionUuid> {
        match value {
            Bson::Binary(b) => b.bytes.as_slice().try_into().ok().map(CollectionUuid),
            _ => None,
        }
    }
}

/// A document's identity and the filter of its write: the canonical BSON bytes of its
/// `documentKey` (`_id`, plus shard-key fields), as the server sent them. Equal keys have equal
/// bytes whatever their Rust representation, and `Int32(1)` is another key than `Int64(1)`, as
/// on the server. Shared: the router, the writer's batch and its replay list hold one buffer.
/// Decoded only where a document is needed ([`DocKey::to_document`], [`DocKey::id`]): decoding
/// every event's key was 5% of the replicator's CPU (README "Performance").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocKey(Arc<[u8]>);

impl DocKey {
    pub fn of(key: &Document) -> DocKey {
        // `bson::to_vec`, not `Document::to_writer`: that encodes into a buffer of its own,
        // then copies it.
        match bson::to_vec(key) {
            Ok(bytes) => DocKey(bytes.into()),
            // Only a key no server can send fails to encode (a field name with a NUL byte):
            // its debug form is still a stable, distinct identity (it decodes as no document).
            Err(_) => DocKey(format!("\0{key:?}").into_bytes().into()),
        }
    }

    /// The key as the server sent it: its bytes are the canonical encoding already (what
    /// [`DocKey::of`] gives for the decoded document), so no decode and re-encode.
    pub fn from_raw(key: &RawDocument) -> DocKey {
        DocKey(key.as_bytes().into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as a raw document (the `q` of its statement); `None` only for a key that did
    /// not encode.
    pub fn as_raw(&self) -> Option<&RawDocument> {
        RawDocument::from_bytes(&self.0).ok()
    }

    /// The key decoded (a re-read, parking, history, sync); empty for a key that did not encode.
    pub fn to_document(&self) -> Document {
        self.decoded().unwrap_or_default()
    }

    fn decoded(&self) -> Option<Document> {
        Document::try_from(self.as_raw()?).ok()
    }

    /// The key's `_id`, decoded.
    pub fn id(&self) -> Option<Bson> {
        let value = self.as_raw()?.get("_id").ok()??;
        Bson::try_from(value).ok()
    }
}

impl From<&Document> for DocKey {
    fn from(key: &Document) -> DocKey {
        DocKey::of(key)
    }
}

impl From<Document> for DocKey {
    fn from(key: Document) -> DocKey {
        DocKey::of(&key)
    }
}

/// As the key document (test failures, debug output), not its bytes.
impl std::fmt::Debug for DocKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.decoded() {
            Some(doc) => write!(f, "DocKey({doc})"),
            None => write!(f, "DocKey({:?})", self.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn ct(time: u32, increment: u32) -> ClusterTime {
        ClusterTime(Timestamp { time, increment })
    }

    #[test]
    fn cluster_times_order_by_seconds_then_increment() {
        assert!(ct(1, 9) < ct(2, 0));
        assert!(ct(2, 1) < ct(2, 2));
        assert_eq!(ct(3, 3).cmp(&ct(3, 3)), Ordering::Equal);
        assert_eq!([ct(2, 0), ct(1, 5), ct(1, 7)].iter().max(), Some(&ct(2, 0)));
    }

    #[test]
    fn a_key_is_the_bytes_of_its_document() {
        for key in [
            doc! {"_id": 1},
            doc! {"_id": {"x": 1, "y": "s"}, "region": "eu"},
            doc! {"_id": bson::oid::ObjectId::new()},
        ] {
            let mut bytes = Vec::new();
            key.to_writer(&mut bytes).unwrap();
            assert_eq!(DocKey::of(&key).as_bytes(), bytes.as_slice());
        }
    }

    #[test]
    fn a_raw_key_is_the_key_of_its_decoded_document() {
        for key in [
            doc! {"_id": 1},
            doc! {"_id": 1i64, "region": "eu"},
            doc! {"_id": {"x": 1.5, "y": ["s", null]}, "sk": bson::Timestamp { time: 1, increment: 2 }},
            doc! {"_id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![7; 16] }},
            doc! {"_id": bson::oid::ObjectId::new()},
        ] {
            let raw = bson::RawDocumentBuf::from_document(&key).unwrap();
            let decoded = Document::try_from(raw.as_ref()).unwrap();
            assert_eq!(DocKey::from_raw(&raw), DocKey::of(&decoded), "{key}");
        }
    }

    #[test]
    fn a_collection_uuid_is_its_16_bytes_read_raw_or_decoded() {
        let uuid = bson::Binary {
            subtype: bson::spec::BinarySubtype::Uuid,
            bytes: (0..16).collect(),
        };
        let raw = bson::rawdoc! {"u": uuid.clone()};
        let from_raw = CollectionUuid::from_raw(raw.get("u").unwrap().unwrap());
        assert_eq!(from_raw, CollectionUuid::of(&Bson::Binary(uuid)));
        assert!(from_raw.is_some());
        assert_eq!(CollectionUuid::of(&Bson::Int32(1)), None);
        let short = bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: vec![1, 2],
        };
        assert_eq!(CollectionUuid::of(&Bson::Binary(short)), None);
    }

    #[test]
    fn a_key_decodes_to_its_document_and_id() {
        let key = doc! {"_id": {"x": 1, "y": "s"}, "region": "eu"};
        let k = DocKey::of(&key);
        assert_eq!(k.to_document(), key);
        assert_eq!(k.id(), Some(bson::Bson::Document(doc! {"x": 1, "y": "s"})));
        assert_eq!(DocKey::of(&doc! {"region": "eu"}).id(), None);
    }

    #[test]
    fn keys_are_equal_by_value_and_type_and_field_order() {
        assert_eq!(DocKey::of(&doc! {"_id": 1}), DocKey::of(&doc! {"_id": 1}));
        assert_ne!(
            DocKey::of(&doc! {"_id": 1}),
            DocKey::of(&doc! {"_id": 1i64})
        );
        assert_ne!(
            DocKey::of(&doc! {"_id": 1, "sk": 2}),
            DocKey::of(&doc! {"sk": 2, "_id": 1})
        );
    }
}
