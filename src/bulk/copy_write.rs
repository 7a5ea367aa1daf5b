//! How the copy writes a batch to the target: an unordered insert, and for the documents that
//! already exist there (a resumed copy, a resync over an existing backup) a replace by `_id`.
//! In a resync, a unique value may have moved between documents while history was lost: the
//! target's stale holder of the value (deleted or changed on the source, pruned or re-copied
//! only later) refuses the replace. Such a holder is settled from the source first (issue 11
//! item 12): deleted when the source no longer has it, else replaced by the source's version;
//! a conflict that remains after that is real and reported.

use crate::apply::{
    check_statements_reply, raw, refused_context, upsert_statement, write_command,
    write_concern_error,
};
use crate::bulk::index_specs::index_specs;
use crate::bulk::merge_join::raw_id;
use crate::error::codes::{class_of_code, is_duplicate_key_code, write_error_kind};
use crate::error::{Error, Origin, Result};
use crate::source::Endpoint;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::options::{InsertManyOptions, ReadConcern};

/// Statements per `update` command of the replace fallback (a batch is at most 16 MiB).
const UPSERT_CHUNK: usize = 1000;
/// Settling rounds for one document before its conflict counts as real.
const MAX_SETTLES: usize = 3;
/// Stale holders looked at per unique index and conflict.
const MAX_HOLDERS: i64 = 16;

/// Inserts a batch (bypassing the backup's validators: the source validated it, with the
/// target's write concern, inherited from the target client); documents that already exist are
/// replaced instead, so the copy is idempotent. A refused insert names the collection and the
/// document's `_id`.
pub async fn write_batch(
    source: &Endpoint,
    target: &Endpoint,
    name: &str,
    batch: &[RawDocumentBuf],
) -> Result<()> {
    let coll = target.collection::<RawDocumentBuf>(name);
    let opts = InsertManyOptions::builder()
        .ordered(false)
        .bypass_document_validation(true)
        .build();
    let e = match coll.insert_many(batch).with_options(opts).await {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    if let mongodb::error::ErrorKind::InsertMany(im) = e.kind.as_ref() {
        if let Some(wce) = &im.write_concern_error {
            let context = format!("inserting into {name}");
            return Err(write_concern_error(&context, Some(wce.code), &wce.message));
        }
    }
    let dup_indexes: Option<Vec<usize>> = match e.kind.as_ref() {
        mongodb::error::ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .map(|errs| errs.iter().map(|w| (w.index, w.code)).collect::<Vec<_>>())
            .filter(|errs| errs.iter().all(|(_, code)| is_duplicate_key_code(*code)))
            .map(|errs| errs.into_iter().map(|(i, _)| i).collect()),
        _ => None,
    };
    let Some(indexes) = dup_indexes else {
        return Err(refused_insert(&e, name, batch));
    };
    let mut docs = Vec::with_capacity(indexes.len());
    for i in indexes {
        docs.push(
            Document::try_from(batch[i].as_ref())
                .map_err(|e| Error::malformed(Origin::Source, "copy", e.to_string()))?,
        );
    }
    replace_settling(source, target, name, &docs).await
}

/// Replaces `docs` by `_id` (upsert), in order; a duplicate key on statement `i` settles the
/// stale holders of that document's unique values, then the writes resume at `i`.
async fn replace_settling(
    source: &Endpoint,
    target: &Endpoint,
    name: &str,
    docs: &[Document],
) -> Result<()> {
    let mut at = 0;
    let mut settles = (usize::MAX, 0usize);
    while at < docs.len() {
        let chunk = &docs[at..docs.len().min(at + UPSERT_CHUNK)];
        let statements: Vec<RawDocumentBuf> = chunk
            .iter()
            .map(|d| {
                let key = doc! {"_id": d.get("_id").cloned().unwrap_or(Bson::Null)};
                upsert_statement(&raw(&key), &raw(d))
            })
            .collect();
        let (db, target_name) = target.locate(name);
        let cmd = write_command(&db, "update", &target_name, "updates", &statements)
            .map_err(|e| Error::malformed(Origin::Source, "copy", e.to_string()))?;
        let reply = db
            .run_raw_command(cmd)
            .await
            .map_err(|e| Error::from_driver(Origin::Target, format!("update on {name}"), &e))?;
        let first = reply
            .get_array("writeErrors")
            .ok()
            .and_then(|errs| errs.first())
            .and_then(Bson::as_document);
        let Some(first) = first else {
            check_statements_reply("update", name, &statements, &reply)?;
            at += chunk.len();
            continue;
        };
        let code = first.get_i32("code").unwrap_or(0);
        let index = first.get_i32("index").unwrap_or(0).max(0) as usize;
        let refused = at + index;
        if !is_duplicate_key_code(code) {
            return check_statements_reply("update", name, &statements, &reply);
        }
        settles = if settles.0 == refused {
            (refused, settles.1 + 1)
        } else {
            (refused, 1)
        };
        if settles.1 > MAX_SETTLES
            || settle_holders(source, target, name, &docs[refused]).await? == 0
        {
            return check_statements_reply("update", name, &statements, &reply);
        }
        at = refused;
    }
    Ok(())
}

/// Settles the target documents other than `doc` that hold one of its unique index values:
/// each is deleted when the source no longer has its `_id`, else replaced by the source's
/// version. Returns how many were settled (0: the conflict is real).
async fn settle_holders(
    source: &Endpoint,
    target: &Endpoint,
    name: &str,
    doc: &Document,
) -> Result<usize> {
    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
    let specs = index_specs(target, name, Origin::Target).await?;
    let (src, dst) = (
        source.collection::<Document>(name),
        target.collection::<Document>(name),
    );
    let mut settled = 0;
    for spec in specs
        .iter()
        .filter(|s| s.get_bool("unique").unwrap_or(false))
    {
        let Some(filter) = holder_filter(spec, doc, &id) else {
            continue;
        };
        let find_err = |e: mongodb::error::Error| {
            Error::from_driver(Origin::Target, format!("finding holders in {name}"), &e)
        };
        let holders: Vec<Document> = dst
            .find(filter)
            .projection(doc! {"_id": 1})
            .limit(MAX_HOLDERS)
            .await
            .map_err(find_err)?
            .try_collect()
            .await
            .map_err(find_err)?;
        for h in holders {
            let hid = h.get("_id").cloned().unwrap_or(Bson::Null);
            let current = src
                .find_one(doc! {"_id": hid.clone()})
                .selection_criteria(crate::source::connect::primary())
                .read_concern(ReadConcern::majority())
                .await
                .map_err(|e| Error::from_driver(Origin::Source, format!("reading {name}"), &e))?;
            let outcome = match current {
                None => dst.delete_one(doc! {"_id": hid}).await.map(|_| ()),
                Some(newer) => dst
                    .replace_one(doc! {"_id": hid}, newer)
                    .bypass_document_validation(true)
                    .await
                    .map(|_| ()),
            };
            outcome.map_err(|e| {
                Error::from_driver(
                    Origin::Target,
                    format!("settling a stale holder in {name}"),
                    &e,
                )
            })?;
            settled += 1;
        }
    }
    if settled > 0 {
        tracing::info!(collection = %name, settled, "the copy settled stale holders of unique values from the source");
    }
    Ok(settled)
}

/// The filter of the documents other than `_id: id` holding `doc`'s values of a unique index
/// (pure): each key path's value (null when missing, as the index stores it), with the index's
/// partial filter; `None` for a sparse index `doc` is not in.
pub fn holder_filter(spec: &Document, doc: &Document, id: &Bson) -> Option<Document> {
    let keys = spec.get_document("key").ok()?;
    let sparse = spec.get_bool("sparse").unwrap_or(false);
    let mut clauses = vec![Bson::Document(doc! {"_id": {"$ne": id.clone()}})];
    let mut present = false;
    for (path, _) in keys {
        let value = value_at(doc, path);
        present |= value.is_some();
        clauses.push(Bson::Document(doc! {path: value.unwrap_or(Bson::Null)}));
    }
    if sparse && !present {
        return None;
    }
    if let Ok(partial) = spec.get_document("partialFilterExpression") {
        clauses.push(Bson::Document(partial.clone()));
    }
    Some(doc! {"$and": clauses})
}

/// The value at a dotted path through subdocuments.
fn value_at(doc: &Document, path: &str) -> Option<Bson> {
    let mut parts = path.split('.');
    let mut v = doc.get(parts.next()?)?;
    for p in parts {
        v = v.as_document()?.get(p)?;
    }
    Some(v.clone())
}

/// The error of a refused `insert_many`: the first refused document's code and server message
/// (not the driver's text, whose `errInfo` carries field values), the collection and its `_id`.
fn refused_insert(e: &mongodb::error::Error, name: &str, batch: &[RawDocumentBuf]) -> Error {
    let first = match e.kind.as_ref() {
        mongodb::error::ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .and_then(|errs| errs.iter().min_by_key(|w| w.index)),
        _ => None,
    };
    let Some(w) = first else {
        return Error::from_driver(Origin::Target, format!("inserting into {name}"), e);
    };
    let id = batch.get(w.index).and_then(|d| raw_id(d).ok());
    let context = refused_context("insert", name, id.as_ref());
    Error::new(
        write_error_kind(w.code),
        class_of_code(w.code),
        context,
        &w.message,
    )
    .at(Origin::Target)
    .with_code(Some(w.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_filter_matches_the_values_of_the_index_keys_on_other_ids() {
        let spec = doc! {"key": {"email": 1, "a.b": 1}, "unique": true, "partialFilterExpression": {"x": 1}};
        let d = doc! {"_id": 1, "email": "e", "a": {"b": 2}};
        assert_eq!(
            holder_filter(&spec, &d, &Bson::Int32(1)),
            Some(doc! {"$and": [{"_id": {"$ne": 1}}, {"email": "e"}, {"a.b": 2}, {"x": 1}]})
        );
        let missing = doc! {"_id": 1};
        let f = holder_filter(&doc! {"key": {"email": 1}}, &missing, &Bson::Int32(1));
        assert_eq!(
            f,
            Some(doc! {"$and": [{"_id": {"$ne": 1}}, {"email": Bson::Null}]})
        );
        let sparse = doc! {"key": {"email": 1}, "sparse": true};
        assert_eq!(holder_filter(&sparse, &missing, &Bson::Int32(1)), None);
    }
}
