//! Re-reading documents from the source by key (`_id $in` where it can), for ops that cannot be
//! applied from their event alone, and the source collection's identity (UUID).

use super::statements::upsert_statement;
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::source::translate::{ClusterTime, DocKey};
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::Database;
use std::collections::HashMap;

/// A document re-read from the source and written to the target: every event of that key up to
/// `at` (the read's operation time) is in the target now.
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

/// Reads the current source version of each key: found -> a replace-upsert. A key the source
/// no longer has is left alone and returned as gone: its disappearance (delete, drop, rename,
/// dropDatabase) is a later event in the stream and is applied in order, whereas deleting now
/// could lose a document that was renamed away with its collection.
pub(super) async fn fetch_current(
    source: &Database,
    coll: &str,
    keys: &[Document],
) -> Result<(Vec<Document>, Vec<Fetched>, Vec<Document>)> {
    let filter = fetch_filter(keys);
    let err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, "reading documents to re-copy", &e)
    };
    let mut session = source.client().start_session().await.map_err(err)?;
    let mut cursor = source
        .collection::<Document>(coll)
        .find(filter)
        .session(&mut session)
        .await
        .map_err(err)?;
    let found: Vec<Document> = cursor
        .stream(&mut session)
        .try_collect()
        .await
        .map_err(err)?;
    let Some(at) = session.operation_time().map(ClusterTime) else {
        return Err(Error::new(
            ErrorKind::Server,
            Class::Transient,
            "reading documents to re-copy",
            "the server sent no operationTime",
        )
        .at(Origin::Source));
    };
    // Found documents by the canonical bytes of their key fields: one hash lookup per key.
    let mut shapes: Vec<Vec<&str>> = Vec::new();
    for key in keys {
        let shape: Vec<&str> = key.keys().map(String::as_str).collect();
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let mut by_key: HashMap<DocKey, Document> = HashMap::with_capacity(found.len());
    for d in found {
        for shape in &shapes {
            if let Some(k) = key_of(shape, &d) {
                by_key.insert(k, d.clone());
            }
        }
    }
    let mut upserts = Vec::new();
    let mut fetched = Vec::new();
    let mut gone = Vec::new();
    for key in keys {
        if let Some(doc) = by_key.get(&DocKey::of(key)) {
            upserts.push(upsert_statement(key.clone(), doc.clone()));
            fetched.push(Fetched {
                coll: coll.to_string(),
                key: key.clone(),
                at,
            });
        } else {
            gone.push(key.clone());
        }
    }
    Ok((upserts, fetched, gone))
}

/// The source collection's current UUID (`listCollections` `info.uuid`); `None` when the
/// collection does not exist.
pub async fn collection_uuid(source: &Database, coll: &str) -> Result<Option<Bson>> {
    let err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, "reading a collection's identity", &e)
    };
    let reply = source
        .run_command(doc! {"listCollections": 1, "filter": {"name": coll}})
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
fn key_of(shape: &[&str], doc: &Document) -> Option<DocKey> {
    let mut k = Document::new();
    for f in shape {
        k.insert(*f, doc.get(f)?.clone());
    }
    Some(DocKey::of(&k))
}
