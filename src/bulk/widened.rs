//! A widened selection: the configuration now selects a source collection the last run did not
//! (a name added to `source.collections`, a new `[[namespaces]]` rule, an `exclude` removed).
//! The backup never received that collection's documents, and its events alone would leave a
//! partial copy, so at start, before the tail resumes, each such collection is copied whole:
//! dropped on the backup, created with the source's options, its documents and indexes copied.
//! The tail then replays (deltas by re-reading), as after the initial copy. The checkpoint
//! records the new selection only after every copy finished, so a crash copies again.

use crate::apply::ddl::apply_ddl;
use crate::bulk::copy::{copy_indexes, create_like};
use crate::bulk::listing::{self, Kind, Listed};
use crate::config::Config;
use crate::error::{Error, Origin, Result};
use crate::ops::Reporter;
use crate::source::namespaces::{newly_selected, Selection};
use crate::source::translate::DdlOp;
use crate::source::{Endpoint, Sides};
use crate::state::Checkpointer;
use bson::{doc, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::options::{InsertManyOptions, ReadConcern};
use std::sync::Arc;

/// Documents per insert of a copy.
const BATCH_DOCS: usize = 1000;
/// Bytes per insert of a copy (well under the 48 MB message limit).
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Copies the collections `cfg` selects that the checkpoint's stored selection did not;
/// `true` when it copied any (the tail must then replay). A checkpoint without a stored
/// selection (written before it was kept) only records the current one.
pub async fn copy_widened(
    cfg: &Config,
    sides: &Sides,
    cp: &Arc<Checkpointer>,
    reporter: &Reporter,
) -> Result<bool> {
    let now = Selection::of(cfg);
    let stored = cp.state.lock().await.selection.clone();
    let before = match stored
        .filter(|s| *s != now)
        .map(|s| s.scope(&cfg.target.database))
    {
        Some(Ok(scope)) => scope,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the checkpoint's stored source selection no longer compiles; collections it may not have selected are not copied (run `resync` for them)");
            cp.set_selection(now);
            return Ok(false);
        }
        None => {
            cp.set_selection(now);
            return Ok(false);
        }
    };
    let listed = reporter
        .retry("listing source collections", || {
            listing::list(&sides.source, Origin::Source)
        })
        .await?;
    let added = newly_selected(
        &before,
        sides.source.scope(),
        listed.iter().map(|l| l.name.as_str()),
    );
    for l in listed.iter().filter(|l| added.contains(&l.name)) {
        let documents = copy_one(&sides.source, &sides.target, l, cp, reporter).await?;
        tracing::info!(collection = %l.name, documents, "copied a collection the widened source selection added");
    }
    cp.set_selection(now);
    if !added.is_empty() {
        reporter
            .retry("saving the checkpoint", || cp.save_state())
            .await?;
    }
    Ok(!added.is_empty())
}

/// Replaces `l` on the backup with the source's: dropped, created alike, documents and
/// indexes copied (a view is only created). Returns the documents copied.
async fn copy_one(
    source: &Endpoint,
    target: &Endpoint,
    l: &Listed,
    cp: &Arc<Checkpointer>,
    reporter: &Reporter,
) -> Result<u64> {
    let drop = DdlOp::Drop {
        coll: l.name.clone(),
    };
    reporter
        .retry(&format!("dropping {} on the backup", l.name), || {
            apply_ddl(target, &drop)
        })
        .await?;
    create_like(target, reporter, l).await?;
    if l.kind == Kind::View {
        return Ok(0);
    }
    let documents = reporter
        .retry(&format!("copying {}", l.name), || async {
            // Starts over on a retry: the documents an earlier attempt wrote are replaced.
            copy_documents(source, target, &l.name).await
        })
        .await?;
    copy_indexes(source, target, &l.name, cp, reporter).await?;
    Ok(documents)
}

/// Copies every source document of `coll` into the backup's `coll` (primary, majority, in
/// `_id` order, unordered inserts bypassing the backup's validators: the source validated
/// them). A document the backup already has is refused as a duplicate and left: callers drop
/// the collection first.
pub(crate) async fn copy_documents(
    source: &Endpoint,
    target: &Endpoint,
    coll: &str,
) -> Result<u64> {
    let read_err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, format!("reading {coll}"), &e)
    };
    let mut cursor = source
        .collection::<RawDocumentBuf>(coll)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .selection_criteria(crate::source::connect::primary())
        .read_concern(ReadConcern::majority())
        .await
        .map_err(read_err)?;
    let dst = target.collection::<RawDocumentBuf>(coll);
    let opts = InsertManyOptions::builder()
        .ordered(false)
        .bypass_document_validation(true)
        .build();
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    let mut total = 0u64;
    loop {
        let next = cursor.try_next().await.map_err(read_err)?;
        let end = next.is_none();
        if let Some(d) = next {
            bytes += d.as_bytes().len();
            batch.push(d);
        }
        if (end || batch.len() >= BATCH_DOCS || bytes >= BATCH_BYTES) && !batch.is_empty() {
            total += batch.len() as u64;
            dst.insert_many(std::mem::take(&mut batch))
                .with_options(opts.clone())
                .await
                .map_err(|e| Error::from_driver(Origin::Target, format!("copying {coll}"), &e))?;
            bytes = 0;
        }
        if end {
            return Ok(total);
        }
    }
}
