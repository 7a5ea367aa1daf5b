//! Sends a coalesced batch to the target: per collection, fetched documents first, then one
//! ordered bulk `update` and one bulk `delete` command (split only by size). Writes are
//! idempotent, so a failed command is simply sent again.

use crate::batch::{upsert_statement, BatchPlan, CollectionPlan};
use crate::error::{Class, Error, ErrorKind, Result};
use bson::{doc, Bson, Document, Timestamp};
use futures::TryStreamExt;
use mongodb::Database;
use std::collections::HashMap;

/// Commands stay well under the 16 MiB command limit (plus room for the envelope).
const MAX_COMMAND_BYTES: usize = 8 * 1024 * 1024;
/// Statements per command, under the server's `maxWriteBatchSize` (100,000).
const MAX_STATEMENTS: usize = 50_000;

/// Duplicate-key codes (11000 and its legacy twins).
const DUPLICATE_KEY_CODES: &[i32] = &[11000, 11001, 12582];

/// True when the target refused a delta because the document's shape differs from the one the
/// event was computed on (a replay over a newer version): re-reading the document fixes it.
pub fn is_shape_conflict(e: &Error) -> bool {
    e.code.is_some_and(crate::error::is_path_conflict_code)
}

/// A document re-read from the source and written to the target: every event of that key up to
/// `at` (the read's operation time) is in the target now.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub coll: String,
    pub key: Document,
    pub at: Timestamp,
}

/// What the fetches of an applied plan found.
#[derive(Debug, Default)]
pub struct FetchOutcome {
    /// Found on the source and written to the target.
    pub found: Vec<Fetched>,
    /// `(collection, key)` the source no longer has (see [`crate::unresolved`]).
    pub gone: Vec<(String, Document)>,
}

/// Applies `plan`: `source` is read only for `fetches`.
pub async fn apply_plan(
    source: &Database,
    target: &Database,
    plan: &BatchPlan,
) -> Result<FetchOutcome> {
    let mut outcome = FetchOutcome::default();
    for (coll, cp) in &plan.collections {
        apply_collection(source, target, coll, cp, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn apply_collection(
    source: &Database,
    target: &Database,
    coll: &str,
    cp: &CollectionPlan,
    outcome: &mut FetchOutcome,
) -> Result<()> {
    // Order per the `CollectionPlan` contract: deletes (freeing unique values) first, then
    // fetched documents, then the ordered updates.
    let (fetched_upserts, found, gone) = if cp.fetches.is_empty() {
        Default::default()
    } else {
        fetch_current(source, coll, &cp.fetches).await?
    };
    let deletes = cp.deletes.clone();
    run_statements(target, "delete", coll, "deletes", deletes).await?;
    let mut updates = fetched_upserts;
    updates.extend(cp.updates.iter().cloned());
    run_statements(target, "update", coll, "updates", updates).await?;
    outcome.found.extend(found);
    outcome
        .gone
        .extend(gone.into_iter().map(|key| (coll.to_string(), key)));
    Ok(())
}

/// Reads the current source version of each key: found -> a replace-upsert. A key the source
/// no longer has is left alone and returned as gone: its disappearance (delete, drop, rename,
/// dropDatabase) is a later event in the stream and is applied in order, whereas deleting now
/// could lose a document that was renamed away with its collection.
async fn fetch_current(
    source: &Database,
    coll: &str,
    keys: &[Document],
) -> Result<(Vec<Document>, Vec<Fetched>, Vec<Document>)> {
    let filter = fetch_filter(keys);
    let err = |e: mongodb::error::Error| {
        Error::from_driver(ErrorKind::Source, "reading documents to re-copy", &e)
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
    let Some(at) = session.operation_time() else {
        return Err(Error::new(
            ErrorKind::Source,
            Class::Transient,
            "reading documents to re-copy",
            "the server sent no operationTime",
        ));
    };
    // Found documents by the canonical bytes of their key fields: one hash lookup per key.
    let mut shapes: Vec<Vec<&str>> = Vec::new();
    for key in keys {
        let shape: Vec<&str> = key.keys().map(String::as_str).collect();
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let mut by_key: HashMap<Vec<u8>, Document> = HashMap::with_capacity(found.len());
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
        if let Some(doc) = by_key.get(&bson::to_vec(key).unwrap_or_default()) {
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
        Error::from_driver(ErrorKind::Source, "reading a collection's identity", &e)
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
fn key_of(shape: &[&str], doc: &Document) -> Option<Vec<u8>> {
    let mut k = Document::new();
    for f in shape {
        k.insert(*f, doc.get(f)?.clone());
    }
    bson::to_vec(&k).ok()
}

/// Sends `statements` as `{<command>: coll, <field>: [...], ordered: true}` in size-bounded chunks.
pub async fn run_statements(
    target: &Database,
    command: &str,
    coll: &str,
    field: &str,
    statements: Vec<Document>,
) -> Result<()> {
    let mut chunk = Vec::new();
    let mut bytes = 0usize;
    for st in statements {
        let size = approx_size(&st);
        if !chunk.is_empty() && (bytes + size > MAX_COMMAND_BYTES || chunk.len() >= MAX_STATEMENTS)
        {
            send(target, command, coll, field, std::mem::take(&mut chunk)).await?;
            bytes = 0;
        }
        bytes += size;
        chunk.push(st);
    }
    if !chunk.is_empty() {
        send(target, command, coll, field, chunk).await?;
    }
    Ok(())
}

fn approx_size(d: &Document) -> usize {
    bson::to_vec(d).map(|v| v.len()).unwrap_or(1024)
}

async fn send(
    target: &Database,
    command: &str,
    coll: &str,
    field: &str,
    chunk: Vec<Document>,
) -> Result<()> {
    let cmd = doc! { command: coll, field: chunk, "ordered": true };
    let reply = target
        .run_command(cmd)
        .await
        .map_err(|e| Error::from_driver(ErrorKind::Target, format!("{command} on {coll}"), &e))?;
    check_write_reply(command, coll, &reply)
}

/// Turns `writeErrors` / `writeConcernError` of an acknowledged reply into an error.
pub fn check_write_reply(command: &str, coll: &str, reply: &Document) -> Result<()> {
    if let Ok(errors) = reply.get_array("writeErrors") {
        if let Some(Bson::Document(first)) = errors.first() {
            let code = first.get_i32("code").unwrap_or(0);
            let msg = first.get_str("errmsg").unwrap_or("write error").to_string();
            let (kind, class) = if DUPLICATE_KEY_CODES.contains(&code) {
                (ErrorKind::Conflict, Class::Fatal)
            } else {
                (
                    ErrorKind::Target,
                    crate::error::classify_parts(&crate::error::ServerFacts {
                        network: false,
                        fatal_kind: false,
                        codes: vec![code],
                        labels: &[],
                    }),
                )
            };
            let mut e = Error::new(
                kind,
                class,
                format!("{command} on {coll}"),
                crate::redact::redact_text(&msg),
            );
            e.code = Some(code);
            return Err(e);
        }
    }
    if let Ok(wce) = reply.get_document("writeConcernError") {
        let msg = wce
            .get_str("errmsg")
            .unwrap_or("write concern error")
            .to_string();
        let mut e = Error::new(
            ErrorKind::Target,
            Class::Transient,
            format!("{command} on {coll}"),
            msg,
        );
        e.code = wce.get_i32("code").ok();
        return Err(e);
    }
    Ok(())
}
