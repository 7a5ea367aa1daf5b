//! Re-reading documents from the source by key (`_id $in` where it can), for ops that cannot be
//! applied from their event alone, matching what was read to the keys (pure), and the source
//! collection's identity (UUID).

use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::source::translate::{ClusterTime, DocKey};
use crate::source::Endpoint;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use std::collections::HashMap;

/// A document re-read from the source and written to the target: every event of that key up to
/// `at` (the read's snapshot time) is in the target now.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub coll: String,
    pub key: Document,
    pub at: ClusterTime,
}

/// What the fetches of an applied plan found.
#[derive(Debug, Default)]
pub struct FetchOutcome {
    /// Found on the source and written to the target.
    pub found: Vec<Fetched>,
    /// `(collection, key)` the source no longer has (see [`crate::state::gone_keys`]).
    pub gone: Vec<(String, Document)>,
}

/// Reads the current source version of `keys` in one query, with the time of its snapshot:
/// every event of a found key up to it is in what was read, and none after it. Which keys were
/// found and what that means for the target is [`super::plan::order`]'s.
///
/// The read is a snapshot read (read concern "snapshot", MongoDB 5.0+) and the time is the
/// reply's `atClusterTime`. The reply's `operationTime` is no such time: the server takes it
/// after the read, so a write committed in between fell under it, its delta was fenced away and
/// the backup kept the older version for good (CI, HA handover; `replicate::fetch_time`).
/// Snapshot reads return majority-committed data. The read goes to the primary whatever the
/// source URI says: a lagging secondary would return a version older than the event being
/// applied, and the event would count as applied without it.
pub async fn fetch_current(
    source: &Endpoint,
    coll: &str,
    keys: &[Document],
) -> Result<(Vec<Document>, ClusterTime)> {
    let filter = fetch_filter(keys);
    let err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, "reading documents to re-copy", &e)
    };
    let mut session = source
        .client()
        .start_session()
        .snapshot(true)
        .await
        .map_err(err)?;
    let mut cursor = source
        .collection::<Document>(coll)
        .find(filter)
        .selection_criteria(crate::source::connect::primary())
        .session(&mut session)
        .await
        .map_err(err)?;
    let found: Vec<Document> = cursor
        .stream(&mut session)
        .try_collect()
        .await
        .map_err(err)?;
    let Some(at) = session.snapshot_time().map(ClusterTime) else {
        return Err(Error::new(
            ErrorKind::Server,
            Class::Transient,
            "reading documents to re-copy",
            "the server sent no atClusterTime for a snapshot read",
        )
        .at(Origin::Source));
    };
    Ok((found, at))
}

/// Pairs each key with the document of `read` that has it (`(key, document)` in key order),
/// and lists the keys no document has (gone). A document matches a key when its fields of the
/// key's shape (`_id`, plus shard key fields) equal the key's, by canonical bytes.
pub(super) fn match_found(
    keys: &[Document],
    read: Vec<Document>,
) -> (Vec<(Document, Document)>, Vec<Document>) {
    if keys.is_empty() {
        return Default::default();
    }
    let mut shapes: Vec<Vec<&str>> = Vec::new();
    for key in keys {
        let shape: Vec<&str> = key.keys().map(String::as_str).collect();
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    // One hash lookup per key.
    let mut by_key: HashMap<DocKey, Document> = HashMap::with_capacity(read.len());
    for d in read {
        for shape in &shapes {
            if let Some(k) = key_of(shape, &d) {
                by_key.insert(k, d.clone());
            }
        }
    }
    let mut found = Vec::new();
    let mut gone = Vec::new();
    for key in keys {
        match by_key.get(&DocKey::of(key)) {
            Some(doc) => found.push((key.clone(), doc.clone())),
            None => gone.push(key.clone()),
        }
    }
    (found, gone)
}

/// The source collection's current UUID (`listCollections` `info.uuid`); `None` when the
/// collection does not exist.
pub async fn collection_uuid(source: &Endpoint, coll: &str) -> Result<Option<Bson>> {
    let err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, "reading a collection's identity", &e)
    };
    let (db, name) = source.locate(coll);
    let reply = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": name}})
        .await
        .map_err(err)?;
    let uuid = reply
        .get_document("cursor")
        .ok()
        .and_then(|c| c.get_array("firstBatch").ok())
        .and_then(|batch| batch.first())
        .and_then(Bson::as_document)
        .and_then(|spec| spec.get_document("info").ok())
        .and_then(|info| info.get("uuid"))
        .cloned();
    Ok(uuid)
}

/// `{_id: {$in: [...]}}` when every key is `{_id}` alone (the common, unsharded case: one
/// index lookup per key), else `$or` of the keys.
fn fetch_filter(keys: &[Document]) -> Document {
    if keys.len() == 1 {
        return keys[0].clone();
    }
    let ids: Option<Vec<Bson>> = keys
        .iter()
        .map(|k| match (k.len(), k.get("_id")) {
            (1, Some(id)) => Some(id.clone()),
            _ => None,
        })
        .collect();
    match ids {
        Some(ids) => doc! {"_id": {"$in": ids}},
        None => doc! {"$or": keys.to_vec()},
    }
}

/// The canonical bytes of the key of `doc` with the fields of `shape`, when it has them all.
/// A dotted field of a key is a path (`customer.id` of a sharded source's `documentKey`: shard
/// key fields are paths, never literal dotted names).
fn key_of(shape: &[&str], doc: &Document) -> Option<DocKey> {
    let mut k = Document::new();
    for f in shape {
        k.insert(*f, at_path(doc, f)?.clone());
    }
    Some(DocKey::of(&k))
}

/// The value at the dotted `path` of `doc` (through embedded documents only, as shard keys).
fn at_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = value.as_document()?.get(part)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_is_its_own_filter() {
        let key = doc! {"_id": 1, "region": "eu"};
        assert_eq!(fetch_filter(std::slice::from_ref(&key)), key);
        assert_eq!(fetch_filter(&[doc! {"_id": 1}]), doc! {"_id": 1});
    }

    #[test]
    fn plain_id_keys_become_one_in_query() {
        let keys = [doc! {"_id": 1}, doc! {"_id": "a"}, doc! {"_id": {"x": 1}}];
        assert_eq!(
            fetch_filter(&keys),
            doc! {"_id": {"$in": [1, "a", {"x": 1}]}}
        );
    }

    #[test]
    fn a_compound_key_makes_an_or_of_the_keys() {
        let keys = [doc! {"_id": 1}, doc! {"_id": 2, "region": "eu"}];
        assert_eq!(fetch_filter(&keys), doc! {"$or": keys.to_vec()});
        // A key without `_id` cannot take part in `$in` either.
        let keys = [doc! {"_id": 1}, doc! {"sk": 2}];
        assert_eq!(fetch_filter(&keys), doc! {"$or": keys.to_vec()});
    }

    #[test]
    fn key_of_takes_the_shape_fields_in_shape_order() {
        let d = doc! {"v": 0, "region": "eu", "_id": 1};
        assert_eq!(
            key_of(&["_id", "region"], &d),
            Some(DocKey::of(&doc! {"_id": 1, "region": "eu"}))
        );
        assert_eq!(key_of(&["_id"], &d), Some(DocKey::of(&doc! {"_id": 1})));
        assert_eq!(key_of(&["_id", "zone"], &d), None, "a missing field");
    }

    /// A sharded source with a dotted shard key sends `documentKey: {"customer.id": 5, _id}`:
    /// the field is a path into the document (shard keys are paths), so the read document
    /// `{_id, customer: {id: 5}}` is that key's.
    #[test]
    fn a_dotted_shard_key_field_is_a_path_into_the_document() {
        let keys = vec![
            doc! {"customer.id": 5, "_id": 1},
            doc! {"customer.id": 6, "_id": 2},
        ];
        let read = vec![
            doc! {"_id": 1, "customer": {"id": 5, "name": "n"}, "v": 1},
            // Same `_id`, another shard key value: not key 2.
            doc! {"_id": 2, "customer": {"id": 7}},
        ];
        let (found, gone) = match_found(&keys, read);
        assert_eq!(
            found.len(),
            1,
            "the document of the dotted key was not matched"
        );
        assert_eq!(found[0].0, keys[0]);
        assert_eq!(gone, vec![keys[1].clone()]);
        // Deeper paths, and a path through a non-document, which matches nothing.
        let d = doc! {"_id": 1, "a": {"b": {"c": 3}}, "s": "x"};
        assert_eq!(
            key_of(&["a.b.c", "_id"], &d),
            Some(DocKey::of(&doc! {"a.b.c": 3, "_id": 1}))
        );
        assert_eq!(key_of(&["s.t"], &d), None);
    }

    #[test]
    fn found_documents_match_their_keys_by_shape_and_exact_value() {
        let keys = vec![
            doc! {"_id": 1},
            doc! {"_id": 2, "region": "eu"},
            doc! {"_id": 3, "region": "us"},
            doc! {"_id": 4i64},
        ];
        let read = vec![
            doc! {"_id": 3, "v": "three", "region": "us"},
            doc! {"_id": 1, "v": "one"},
            // Same `_id`, other shard key value: not key 2.
            doc! {"_id": 2, "region": "us"},
            // Same number, other type: `4i64` is not `4i32`.
            doc! {"_id": 4},
        ];
        let (found, gone) = match_found(&keys, read);
        assert_eq!(
            found,
            vec![
                (doc! {"_id": 1}, doc! {"_id": 1, "v": "one"}),
                (
                    doc! {"_id": 3, "region": "us"},
                    doc! {"_id": 3, "v": "three", "region": "us"}
                ),
            ]
        );
        assert_eq!(
            gone,
            vec![doc! {"_id": 2, "region": "eu"}, doc! {"_id": 4i64}]
        );
    }
}
