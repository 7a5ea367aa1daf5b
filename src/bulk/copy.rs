//! The initial copy: every collection of the source database, in `_id` order, in large
//! batches, several collections at once, resumable per collection from its last copied `_id`.
//! It runs after the start point is recorded, so the tail replays (idempotently) whatever
//! changed while it ran. Non-unique indexes are built right after each collection; unique ones
//! wait until the tail has caught up (the copied set is not one instant of the source).

use crate::apply::ddl::{apply_ddl, clean_specs};
use crate::apply::{refused_context, write_concern_error};
use crate::bulk::id_order::after_id_filter;
use crate::bulk::index_specs::index_specs;
use crate::bulk::merge_join::raw_id;
use crate::config::Config;
use crate::error::codes::{class_of_code, is_duplicate_key_code, write_error_kind};
use crate::error::retry::{backoff, cancelled, decide, Decision};
use crate::error::{Error, Origin, Result};
use crate::ops::Reporter;
use crate::source::translate::DdlOp;
use crate::state::checkpoint::CollectionCopy;
use crate::state::checkpointer::Checkpointer;
use crate::state::pending_indexes;
use backon::BackoffBuilder;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::{StreamExt, TryStreamExt};
use mongodb::options::{InsertManyOptions, ReadConcern};
use mongodb::Database;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per insert batch (well under the 48 MB message limit).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What one collection's copy did.
#[derive(Debug, Clone)]
pub struct CollectionSummary {
    pub name: String,
    pub documents: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Collections of the source database to replicate (views and `system.*` excluded).
pub async fn source_collections(source: &Database, cfg: &Config) -> Result<Vec<String>> {
    let mut names: Vec<String> = source
        .list_collection_names()
        .filter(doc! {"type": "collection"})
        .await
        .map_err(|e| Error::from_driver(Origin::Source, "listing collections", &e))?
        .into_iter()
        .filter(|n| !n.starts_with("system."))
        .filter(|n| {
            cfg.source
                .collections
                .as_ref()
                .is_none_or(|only| only.contains(n))
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Copies every collection not yet done in the checkpoint; progress is saved after each batch.
pub async fn copy_all(
    cfg: &Config,
    source: &Database,
    target: &Database,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    display: &crate::ops::progress_bars::ProgressBars,
) -> Result<Vec<CollectionSummary>> {
    let names = reporter
        .retry("listing source collections", || {
            source_collections(source, cfg)
        })
        .await?;
    reporter.copy_started(&names);
    let jobs =
        names.into_iter().map(|name| {
            let display = display.clone();
            async move {
                copy_collection(cfg, source, target, checkpointer, reporter, &display, name).await
            }
        });
    let summaries: Vec<CollectionSummary> = futures::stream::iter(jobs)
        .buffer_unordered(cfg.copy.parallel_collections.max(1))
        .try_collect()
        .await?;
    Ok(summaries)
}

async fn copy_collection(
    cfg: &Config,
    source: &Database,
    target: &Database,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    display: &crate::ops::progress_bars::ProgressBars,
    name: String,
) -> Result<CollectionSummary> {
    let started = Instant::now();
    let progress = checkpointer
        .state
        .lock()
        .await
        .copy
        .get(&name)
        .cloned()
        .unwrap_or_default();
    if progress.done {
        return Ok(CollectionSummary {
            name,
            documents: progress.documents,
            bytes: 0,
            seconds: 0.0,
        });
    }
    let total = reporter
        .retry("counting source documents", || async {
            source
                .collection::<Document>(&name)
                .estimated_document_count()
                .await
                .map_err(|e| Error::from_driver(Origin::Source, "counting documents", &e))
        })
        .await?;
    let bar = display.collection(&name, total, progress.documents);
    let mut state = progress;
    let mut bytes = 0u64;
    let started_docs = state.documents;
    // A cursor may die mid-way (network, step-down): resume after the last written `_id`,
    // waiting per the shared backoff (restarted once a resumed copy made progress).
    let mut waits = backoff().build();
    let mut failed_at = None;
    loop {
        match copy_from(
            cfg,
            source,
            target,
            &name,
            &mut state,
            &mut bytes,
            checkpointer,
            reporter,
            &bar,
        )
        .await
        {
            Ok(()) => break,
            Err(e) if decide(&e) == Decision::Backoff && !reporter.abort.is_cancelled() => {
                reporter.retrying(
                    &format!("copy of {name} interrupted; resuming after the last copied _id"),
                    &e,
                );
                if failed_at.replace(state.documents) != Some(state.documents) {
                    waits = backoff().build();
                }
                let wait = waits.next().unwrap_or(Duration::from_secs(5));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = reporter.abort.cancelled() => return Err(cancelled(&format!("copy of {name}"))),
                }
            }
            Err(e) => return Err(e),
        }
    }
    copy_indexes(source, target, &name, checkpointer, reporter).await?;
    state.done = true;
    checkpointer
        .state
        .lock()
        .await
        .copy
        .insert(name.clone(), state.clone());
    reporter
        .retry("writing the checkpoint", || checkpointer.save_state())
        .await?;
    bar.finish();
    Ok(CollectionSummary {
        name,
        documents: state.documents - started_docs,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn copy_from(
    cfg: &Config,
    source: &Database,
    target: &Database,
    name: &str,
    state: &mut CollectionCopy,
    bytes: &mut u64,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    bar: &crate::ops::progress_bars::CollectionBar,
) -> Result<()> {
    let src = source.collection::<RawDocumentBuf>(name);
    let filter = state
        .last_id
        .as_ref()
        .map(after_id_filter)
        .unwrap_or_default();
    let read_err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, format!("reading {name}"), &e)
    };
    let mut cursor = src
        .find(filter)
        .sort(doc! {"_id": 1})
        .batch_size(cfg.copy.batch_size)
        .selection_criteria(crate::source::connect::primary())
        .read_concern(ReadConcern::majority())
        .await
        .map_err(read_err)?;
    let mut batch: Vec<RawDocumentBuf> = Vec::with_capacity(cfg.copy.batch_size as usize);
    let mut batch_bytes = 0usize;
    loop {
        let next = cursor.try_next().await.map_err(read_err)?;
        let end = next.is_none();
        if let Some(d) = next {
            batch_bytes += d.as_bytes().len();
            batch.push(d);
        }
        let full = batch.len() >= cfg.copy.batch_size as usize || batch_bytes >= MAX_BATCH_BYTES;
        if (full || end) && !batch.is_empty() {
            let last_id = last_id_of(&batch)?;
            let n = batch.len() as u64;
            let written = std::mem::take(&mut batch);
            reporter
                .retry(&format!("writing a copy batch of {name}"), || {
                    write_batch(target, name, &written)
                })
                .await?;
            *bytes += batch_bytes as u64;
            batch_bytes = 0;
            state.last_id = Some(last_id);
            state.documents += n;
            reporter.copy_batch_written(name, n);
            bar.advance(n);
            checkpointer
                .state
                .lock()
                .await
                .copy
                .insert(name.to_string(), state.clone());
            if let Err(e) = checkpointer.save_state().await {
                tracing::warn!(error = %e, "saving copy progress failed; continuing");
            }
        }
        if end {
            return Ok(());
        }
    }
}

fn last_id_of(batch: &[RawDocumentBuf]) -> Result<Bson> {
    let last = batch.last().expect("non-empty batch");
    let id = last
        .get("_id")
        .ok()
        .flatten()
        .ok_or_else(|| Error::malformed(Origin::Source, "copy", "a document without _id"))?;
    Bson::try_from(id.to_raw_bson())
        .map_err(|e| Error::malformed(Origin::Source, "copy", e.to_string()))
}

/// Inserts a batch (bypassing the backup's validators: the source validated it, with the
/// target's write concern, inherited from the target client); documents that already exist (a
/// resumed copy, a resync over an existing target) are replaced instead, so the copy is
/// idempotent. A refused insert names the collection and the document's `_id`.
async fn write_batch(target: &Database, name: &str, batch: &[RawDocumentBuf]) -> Result<()> {
    let coll = target.collection::<RawDocumentBuf>(name);
    let opts = InsertManyOptions::builder()
        .ordered(false)
        .bypass_document_validation(true)
        .build();
    match coll.insert_many(batch).with_options(opts).await {
        Ok(_) => Ok(()),
        Err(e) => {
            if let mongodb::error::ErrorKind::InsertMany(im) = e.kind.as_ref() {
                if let Some(wce) = &im.write_concern_error {
                    let context = format!("inserting into {name}");
                    return Err(write_concern_error(&context, Some(wce.code), &wce.message));
                }
            }
            let dup_indexes: Option<Vec<usize>> = match e.kind.as_ref() {
                mongodb::error::ErrorKind::InsertMany(im) if im.write_concern_error.is_none() => im
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
            let mut statements = Vec::with_capacity(indexes.len());
            for i in indexes {
                let doc = Document::try_from(batch[i].as_ref())
                    .map_err(|e| Error::malformed(Origin::Source, "copy", e.to_string()))?;
                let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                statements.push(crate::apply::upsert_statement(doc! {"_id": id}, doc));
            }
            crate::apply::run_statements(target, "update", name, "updates", statements).await
        }
    }
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

/// Builds non-unique indexes now; defers unique ones (recorded in the checkpoint).
async fn copy_indexes(
    source: &Database,
    target: &Database,
    name: &str,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
) -> Result<()> {
    let specs = reporter
        .retry("listing source indexes", || {
            index_specs(source, name, Origin::Source)
        })
        .await?;
    crate::state::ttl_indexes::record(
        &mut checkpointer.state.lock().await.ttl_indexes,
        name,
        &specs,
    );
    let (unique, plain): (Vec<Document>, Vec<Document>) = specs
        .into_iter()
        .partition(|s| s.get_bool("unique").unwrap_or(false));
    if !plain.is_empty() {
        let op = DdlOp::CreateIndexes {
            coll: name.to_string(),
            indexes: clean_specs(&plain),
        };
        reporter
            .retry("building indexes", || apply_ddl(target, &op))
            .await?;
    }
    if !unique.is_empty() {
        let mut state = checkpointer.state.lock().await;
        pending_indexes::defer(&mut state.pending_indexes, name, clean_specs(&unique));
        reporter.pending_indexes(pending_indexes::labels(&state.pending_indexes));
    }
    Ok(())
}
