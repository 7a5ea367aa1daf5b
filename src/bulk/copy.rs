//! The initial copy: every collection of the source database, in `_id` order, in large
//! batches, several collections at once, resumable per collection from its last copied `_id`.
//! It runs after the start point is recorded, so the tail replays (idempotently) whatever
//! changed while it ran. Non-unique indexes are built right after each collection; unique ones
//! wait until the tail has caught up (the copied set is not one instant of the source).

use crate::apply::ddl::{apply_ddl, clean_specs};
use crate::bulk::align;
use crate::bulk::copy_write::write_batch;
use crate::bulk::follow;
use crate::bulk::id_order::after_id_filter;
use crate::bulk::index_specs::index_specs;
use crate::bulk::listing::{self, Kind, Listed};
use crate::config::Config;
use crate::error::retry::{backoff, cancelled, decide, Decision};
use crate::error::{Error, Origin, Result};
use crate::ops::Reporter;
use crate::source::translate::DdlOp;
use crate::source::Endpoint;
use crate::state::checkpoint::CollectionCopy;
use crate::state::checkpointer::Checkpointer;
use crate::state::pending_indexes;
use backon::BackoffBuilder;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::{StreamExt, TryStreamExt};
use mongodb::options::ReadConcern;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per insert batch (well under the 48 MB message limit).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What one collection's copy did.
#[derive(Debug, Clone)]
pub struct CollectionSummary {
    pub name: String,
    /// The source collection's UUID (hex), when the server gives one.
    pub uuid: Option<String>,
    pub documents: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Keys of the source collections to replicate (views and `system.*` excluded).
pub async fn source_collections(source: &Endpoint) -> Result<Vec<String>> {
    Ok(listing::list(source, Origin::Source)
        .await?
        .into_iter()
        .filter(|l| l.kind == Kind::Collection)
        .map(|l| l.name)
        .collect())
}

/// Copies every collection not yet done in the checkpoint; progress is saved after each batch.
pub async fn copy_all(
    cfg: &Config,
    source: &Endpoint,
    target: &Endpoint,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    display: &crate::ops::progress_bars::ProgressBars,
) -> Result<Vec<CollectionSummary>> {
    let listed = list_source(source, reporter).await?;
    // Copies recorded under a name the source has since renamed continue under the new one.
    let progress = checkpointer.state.lock().await.copy.clone();
    for m in follow::moves(&progress, &listed) {
        move_copy(target, checkpointer, reporter, &m).await?;
    }
    let mut collections = Vec::new();
    for l in listed {
        match l.kind {
            Kind::Collection => collections.push(l),
            Kind::View => create_like(target, reporter, &l).await?,
            // mongod's change streams carry no events of time series collections: a copy could
            // never be kept up to date, so none is made (and the operator is told which).
            Kind::Timeseries => tracing::warn!(
                collection = %l.name,
                "time series collections cannot be replicated (change streams do not report their writes); skipped"
            ),
        }
    }
    reporter.copy_started(
        &collections
            .iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>(),
    );
    let jobs =
        collections.into_iter().map(|l| {
            let display = display.clone();
            async move {
                copy_collection(cfg, source, target, checkpointer, reporter, &display, l).await
            }
        });
    let summaries: Vec<CollectionSummary> = futures::stream::iter(jobs)
        .buffer_unordered(cfg.copy.parallel_collections.max(1))
        .try_collect()
        .await?;
    Ok(summaries)
}

async fn list_source(source: &Endpoint, reporter: &Reporter) -> Result<Vec<Listed>> {
    reporter
        .retry("listing source collections", || {
            listing::list(source, Origin::Source)
        })
        .await
}

/// Creates `l` on the target as the source has it: a collection with its options (capped,
/// validator, collation, clustered...), a view as a view. An existing one gets the options
/// that can change ([`align`]); the others are named (and `verify` reports them).
pub(crate) async fn create_like(target: &Endpoint, reporter: &Reporter, l: &Listed) -> Result<()> {
    let existing = reporter
        .retry(&format!("listing {} on the target", l.name), || {
            listing::list_one(target, &l.name, Origin::Target)
        })
        .await?;
    let plan = existing.as_ref().map(|t| align::alignment(l, t));
    if let Some(plan) = &plan {
        for option in &plan.fixed {
            tracing::warn!(
                collection = %l.name,
                option = %option,
                "the backup's {} has another {option} than the source's, which cannot be changed in place: drop it on the backup and copy again to align it",
                l.name
            );
        }
        if let Some(changes) = &plan.coll_mod {
            let op = DdlOp::Modify {
                coll: l.name.clone(),
                changes: changes.clone(),
            };
            reporter
                .retry(&format!("aligning the options of {}", l.name), || {
                    apply_ddl(target, &op)
                })
                .await?;
        }
    }
    let recreate = plan.as_ref().is_some_and(|p| p.recreate_view);
    if recreate {
        let drop = DdlOp::Drop {
            coll: l.name.clone(),
        };
        reporter
            .retry(&format!("re-creating the view {}", l.name), || {
                apply_ddl(target, &drop)
            })
            .await?;
    }
    if existing.is_some() && !recreate {
        return Ok(());
    }
    let op = DdlOp::Create {
        coll: l.name.clone(),
        options: listing::create_options(l),
    };
    reporter
        .retry(&format!("creating {}", l.name), || apply_ddl(target, &op))
        .await
}

/// Moves the target copy of a renamed source collection to its new name (replacing what the
/// new name holds: the source replaced it too) and records the name in the checkpoint.
async fn move_copy(
    target: &Endpoint,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    m: &follow::Move,
) -> Result<()> {
    let op = DdlOp::Rename {
        from: m.from.clone(),
        to: m.to.clone(),
    };
    reporter
        .retry("moving a renamed collection's copy", || {
            apply_ddl(target, &op)
        })
        .await?;
    tracing::info!(from = %m.from, to = %m.to, "the source renamed a collection being copied; its copy follows it");
    if let Some(p) = checkpointer.state.lock().await.copy.get_mut(&m.key) {
        p.name = Some(m.to.clone());
    }
    reporter
        .retry("writing the checkpoint", || checkpointer.save_state())
        .await
}

/// The progress of `l`: under its UUID, else (a checkpoint from before UUIDs) its name.
async fn progress_of(checkpointer: &Checkpointer, l: &Listed) -> CollectionCopy {
    let mut state = checkpointer.state.lock().await;
    let key = listing::progress_key(l);
    let legacy = state
        .copy
        .get(&l.name)
        .is_some_and(|p| p.name.is_none())
        .then(|| state.copy.remove(&l.name))
        .flatten();
    let mut p = state.copy.get(&key).cloned().or(legacy).unwrap_or_default();
    p.name.get_or_insert_with(|| l.name.clone());
    state.copy.insert(key, p.clone());
    p
}

async fn copy_collection(
    cfg: &Config,
    source: &Endpoint,
    target: &Endpoint,
    checkpointer: &Arc<Checkpointer>,
    reporter: &Reporter,
    display: &crate::ops::progress_bars::ProgressBars,
    listed: Listed,
) -> Result<CollectionSummary> {
    let started = Instant::now();
    let key = listing::progress_key(&listed);
    let progress = progress_of(checkpointer, &listed).await;
    let mut name = listed.name.clone();
    if progress.done {
        return Ok(CollectionSummary {
            name,
            uuid: listed.uuid,
            documents: progress.documents,
            bytes: 0,
            seconds: 0.0,
        });
    }
    create_like(target, reporter, &listed).await?;
    let total = reporter
        .retry("counting source documents", || async {
            source
                .collection::<Document>(&name)
                .estimated_document_count()
                .await
                .map_err(|e| Error::from_driver(Origin::Source, "counting documents", &e))
        })
        .await?;
    reporter.status.set_copy_total(&name, total);
    let bar = display.collection(&name, total, progress.documents);
    let mut state = progress;
    let mut bytes = 0u64;
    let started_docs = state.documents;
    // A cursor may die mid-way (network, step-down, a rename): resume after the last written
    // `_id`, waiting per the shared backoff (restarted once a resumed copy made progress).
    let mut waits = backoff().build();
    let mut failed_at = None;
    loop {
        let copy = CopyJob {
            cfg,
            source,
            target,
            name: &name,
            key: &key,
            checkpointer,
            reporter,
            bar: &bar,
        };
        match copy.copy_from(&mut state, &mut bytes).await {
            Ok(()) => {
                // The end of the source's cursor: the end of the collection, unless it was
                // renamed meanwhile (then its copy follows it and continues there).
                let Some(uuid) = &listed.uuid else { break };
                let now = list_source(source, reporter).await?;
                match listing::name_of(&now, uuid) {
                    Some(to) if to != name => {
                        let m = follow::Move {
                            key: key.clone(),
                            from: name.clone(),
                            to: to.to_string(),
                        };
                        move_copy(target, checkpointer, reporter, &m).await?;
                        state.name = Some(m.to.clone());
                        name = m.to;
                    }
                    _ => break,
                }
            }
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
        .insert(key, state.clone());
    reporter
        .retry("writing the checkpoint", || checkpointer.save_state())
        .await?;
    bar.finish();
    Ok(CollectionSummary {
        name,
        uuid: listed.uuid,
        documents: state.documents - started_docs,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One collection's copy under its current name, its progress saved under `key`.
struct CopyJob<'a> {
    cfg: &'a Config,
    source: &'a Endpoint,
    target: &'a Endpoint,
    name: &'a str,
    key: &'a str,
    checkpointer: &'a Arc<Checkpointer>,
    reporter: &'a Reporter,
    bar: &'a crate::ops::progress_bars::CollectionBar,
}

impl CopyJob<'_> {
    async fn copy_from(&self, state: &mut CollectionCopy, bytes: &mut u64) -> Result<()> {
        let (cfg, name) = (self.cfg, self.name);
        let src = self.source.collection::<RawDocumentBuf>(name);
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
        // The next batch is read while the current one is written (the two sides' round trips
        // overlap); progress is saved only after its batch is written.
        let mut next = read_batch(&mut cursor, cfg.copy.batch_size as usize)
            .await
            .map_err(read_err)?;
        while let Some((batch, batch_bytes)) = next {
            let (written, read) = tokio::join!(
                self.write_and_record(state, batch, batch_bytes, bytes),
                read_batch(&mut cursor, cfg.copy.batch_size as usize),
            );
            written?;
            next = read.map_err(read_err)?;
        }
        Ok(())
    }

    /// Writes one batch, then records its progress (counters, the bar, the checkpoint).
    async fn write_and_record(
        &self,
        state: &mut CollectionCopy,
        batch: Vec<RawDocumentBuf>,
        batch_bytes: usize,
        bytes: &mut u64,
    ) -> Result<()> {
        let (name, key) = (self.name, self.key);
        let last_id = last_id_of(&batch)?;
        let n = batch.len() as u64;
        self.reporter
            .retry(&format!("writing a copy batch of {name}"), || {
                write_batch(self.source, self.target, name, &batch)
            })
            .await?;
        *bytes += batch_bytes as u64;
        state.last_id = Some(last_id);
        state.documents += n;
        self.reporter.copy_batch_written(name, n);
        self.bar.advance(n);
        self.checkpointer
            .state
            .lock()
            .await
            .copy
            .insert(key.to_string(), state.clone());
        if let Err(e) = self.checkpointer.save_state().await {
            tracing::warn!(error = %e, "saving copy progress failed; continuing");
        }
        Ok(())
    }
}

/// The next batch of the cursor (up to `max` documents or [`MAX_BATCH_BYTES`]) and its bytes;
/// `None` at the end.
async fn read_batch(
    cursor: &mut mongodb::Cursor<RawDocumentBuf>,
    max: usize,
) -> mongodb::error::Result<Option<(Vec<RawDocumentBuf>, usize)>> {
    let mut batch = Vec::with_capacity(max);
    let mut batch_bytes = 0usize;
    while batch.len() < max && batch_bytes < MAX_BATCH_BYTES {
        match cursor.try_next().await? {
            Some(d) => {
                batch_bytes += d.as_bytes().len();
                batch.push(d);
            }
            None => break,
        }
    }
    Ok((!batch.is_empty()).then_some((batch, batch_bytes)))
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

/// Builds non-unique indexes now; defers unique ones (recorded in the checkpoint).
pub(crate) async fn copy_indexes(
    source: &Endpoint,
    target: &Endpoint,
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
