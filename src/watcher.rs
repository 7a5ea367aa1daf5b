//! Reads the database-level change stream and feeds the pipeline: every event gets a sequence
//! number in the watermark, write ops go to their writer, DDL runs as a barrier, idle batches
//! advance the watermark with `postBatchResumeToken`. Resume tokens are opaque: stored and
//! handed back, never parsed. Reopens with `resumeAfter` on transient errors, `startAfter`
//! after `invalidate`; history lost (286) ends the tail for the caller to decide.

use crate::checkpointer::Checkpointer;
use crate::config::UpdateMode;
use crate::ddl::apply_ddl;
use crate::drop_hold::{DropHold, Verdict};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::progress::Progress;
use crate::retry::{backoff, Telemetry};
use crate::router::Router;
use crate::translate::{event_meta, translate, DdlOp, TranslateOptions, Translated, WriteKind};
use crate::writer::Item;
use backon::BackoffBuilder;
use bson::{doc, Document, Timestamp};
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use mongodb::options::FullDocumentType;
use mongodb::Database;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where the stream (re)opens.
#[derive(Debug, Clone)]
pub enum StartAt {
    Now,
    ResumeAfter(Document),
    StartAfter(Document),
}

pub struct Watcher {
    pub source: Database,
    pub target: Database,
    pub translate: TranslateOptions,
    pub batch_size: u32,
    pub progress: Arc<Progress>,
    pub telemetry: Telemetry,
    pub checkpointer: Arc<Checkpointer>,
    pub router: Router,
    /// When deferred unique indexes were last attempted (attempts are spaced out).
    pub index_attempt: parking_lot::Mutex<Option<std::time::Instant>>,
}

/// What the watcher carries from one event to the next.
#[derive(Default)]
struct StreamState {
    /// Deltas of events up to this time are applied by re-reading the document.
    replay_until: Option<Timestamp>,
    /// Collection drops that may belong to a `dropDatabase` (only with `drop_database = false`).
    drops: DropHold,
}

/// How often building deferred unique indexes is retried after a duplicate-key refusal.
const INDEX_RETRY_EVERY: Duration = Duration::from_secs(30);

/// Opens the change stream on `source` at `start`.
pub async fn open_stream(
    source: &Database,
    start: &StartAt,
    mode: UpdateMode,
    batch_size: u32,
) -> Result<ChangeStream<Document>> {
    let split = !SPLIT_UNSUPPORTED.load(Ordering::Relaxed);
    let mut w = source
        .watch()
        .pipeline(split.then(|| doc! {"$changeStreamSplitLargeEvent": {}}))
        .show_expanded_events(true)
        .max_await_time(Duration::from_millis(500))
        .batch_size(batch_size);
    if mode == UpdateMode::FullDocument {
        w = w.full_document(FullDocumentType::UpdateLookup);
    }
    w = match start {
        StartAt::Now => w,
        StartAt::ResumeAfter(t) => w.resume_after(to_token(t)?),
        StartAt::StartAfter(t) => w.start_after(to_token(t)?),
    };
    match w.await {
        Ok(stream) => Ok(stream.with_type::<Document>()),
        Err(e) if split && is_unknown_stage(&e) => {
            // Servers before 6.0.9 / 7.0 cannot split large events: events over 16 MiB then
            // fail the stream, as on every tool; everything else works the same.
            tracing::warn!("the source does not support $changeStreamSplitLargeEvent; events over 16 MiB cannot be replicated");
            SPLIT_UNSUPPORTED.store(true, Ordering::Relaxed);
            Box::pin(open_stream(source, start, mode, batch_size)).await
        }
        Err(e) => Err(Error::from_driver(
            ErrorKind::Source,
            "opening the change stream",
            &e,
        )),
    }
}

/// Set once the source refused `$changeStreamSplitLargeEvent`.
static SPLIT_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

fn is_unknown_stage(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 40324 || c.message.contains("$changeStreamSplitLargeEvent"))
}

fn to_token(d: &Document) -> Result<ResumeToken> {
    bson::from_bson(bson::Bson::Document(d.clone())).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "resume token",
            e.to_string(),
        )
    })
}

/// The stream's current resume token as a document.
pub fn token_of(stream: &ChangeStream<Document>) -> Option<Document> {
    let t = stream.resume_token()?;
    match bson::to_bson(&t) {
        Ok(bson::Bson::Document(d)) => Some(d),
        _ => None,
    }
}

impl Watcher {
    /// Runs until `stop` (Ok) or an error the caller must handle (history lost, fatal).
    /// `replay`: the target may be ahead of `start` (after a copy, or a crash after the last
    /// checkpoint); then deltas of events up to now are applied by re-reading the document,
    /// which is exact where a delta over a newer version could reorder fields.
    pub async fn run(
        &self,
        mut start: StartAt,
        replay: bool,
        stop: &CancellationToken,
    ) -> Result<()> {
        let mode = self.translate.update_mode;
        let replay_until = if replay {
            self.telemetry
                .retry("reading the source operation time", || {
                    crate::connect::operation_time(&self.source)
                })
                .await?
        } else {
            None
        };
        let mut state = StreamState {
            replay_until,
            drops: DropHold::default(),
        };
        let mut failures = backoff().build();
        let mut fragments = crate::split::Reassembler::default();
        loop {
            let mut stream = tokio::select! {
                s = self.telemetry.retry("opening the change stream", || open_stream(&self.source, &start, mode, self.batch_size)) => s?,
                _ = stop.cancelled() => return Ok(()),
            };
            self.telemetry.set_stream_open(true);
            self.telemetry.set_up("source", true);
            let mut last_token: Option<Document> = None;
            let reopen = loop {
                let next = tokio::select! {
                    n = stream.next_if_any() => n,
                    _ = stop.cancelled() => return Ok(()),
                };
                match next {
                    Ok(Some(event)) => {
                        self.progress.set_stream_idle(false);
                        failures = backoff().build();
                        let event = fragments.feed(event).map_err(|m| {
                            Error::new(
                                ErrorKind::Source,
                                Class::Fatal,
                                "reassembling a split event",
                                m,
                            )
                        })?;
                        let Some(event) = event else { continue };
                        if let Some(invalidated) = self.handle_event(event, &mut state).await? {
                            break StartAt::StartAfter(invalidated);
                        }
                        last_token = token_of(&stream);
                    }
                    Ok(None) => {
                        if state.drops.expired(std::time::Instant::now()) {
                            // No `dropDatabase` came: they were ordinary collection drops.
                            self.release_drops(&mut state).await?;
                        }
                        self.progress.set_stream_idle(true);
                        if let Some(t) = token_of(&stream) {
                            if last_token.as_ref() != Some(&t) {
                                self.progress.register_applied(t.clone());
                                last_token = Some(t);
                            }
                        }
                        if self.progress.pending() == 0 {
                            self.build_pending_indexes().await?;
                        }
                    }
                    Err(e) => {
                        let err =
                            Error::from_driver(ErrorKind::Source, "reading the change stream", &e);
                        if err.kind == ErrorKind::HistoryLost || !err.is_transient() {
                            return Err(err);
                        }
                        self.telemetry.set_stream_open(false);
                        self.telemetry.metrics.retry();
                        self.telemetry.record_error(&err);
                        tracing::warn!(error = %err, "change stream interrupted; resuming");
                        let wait = failures.next().unwrap_or(Duration::from_secs(5));
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = stop.cancelled() => return Ok(()),
                        }
                        break match token_of(&stream).or(last_token.clone()) {
                            Some(t) => StartAt::ResumeAfter(t),
                            None => start.clone(),
                        };
                    }
                }
                if !stream.is_alive() {
                    // The server closed the cursor without an invalidate we saw: resume where we are.
                    break match token_of(&stream) {
                        Some(t) => StartAt::ResumeAfter(t),
                        None => start.clone(),
                    };
                }
            };
            self.telemetry.set_stream_open(false);
            start = reopen;
        }
    }

    /// Returns `Some(token)` when the event invalidated the stream.
    async fn handle_event(
        &self,
        event: Document,
        state: &mut StreamState,
    ) -> Result<Option<Document>> {
        let bad = |e: crate::translate::TranslateError| {
            Error::new(
                ErrorKind::Source,
                Class::Fatal,
                "translating a change event",
                e.to_string(),
            )
        };
        let meta = event_meta(&event).map_err(bad)?;
        self.telemetry.metrics.events_received(1);
        let translated = translate(&event, &self.translate).map_err(bad)?;
        if !state.drops.is_empty() {
            let this_db = event
                .get_document("ns")
                .and_then(|ns| ns.get_str("db"))
                .is_ok_and(|db| db == self.translate.source_db);
            match DropHold::verdict(&meta.op_type, this_db) {
                Verdict::Hold => {}
                Verdict::Discard => {
                    let kept = state.drops.take();
                    tracing::info!(
                        collections = kept.len(),
                        "the source database was dropped; the backup keeps its collections (apply.ddl.drop_database = false)"
                    );
                    self.progress.ack(kept.iter().map(|d| d.seq), None, None);
                }
                Verdict::Release => self.release_drops(state).await?,
            }
        }
        match translated {
            Translated::Write(mut op) => {
                if let (WriteKind::Delta { .. }, Some(ct), Some(until)) =
                    (&op.kind, meta.cluster_time, state.replay_until)
                {
                    if (ct.time, ct.increment) <= (until.time, until.increment) {
                        op.kind = WriteKind::Fetch;
                    }
                }
                let op_label = op_label(&meta.op_type);
                let seq = self.progress.register(meta.token, meta.wall_time_ms);
                let item = Item {
                    seq,
                    op,
                    op_label,
                    wall_ms: meta.wall_time_ms,
                    cluster_time: meta.cluster_time,
                    coll_uuid: event.get("collectionUUID").cloned(),
                };
                if !self.router.route(item).await {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        Class::Fatal,
                        "routing",
                        "a writer stopped",
                    ));
                }
            }
            Translated::Ddl(op) => {
                // Pending in the watermark until applied (or discarded, for a held drop).
                let seq = self.progress.register(meta.token, meta.wall_time_ms);
                let ddl = &self.translate.ddl;
                if matches!(op, DdlOp::Drop { .. }) && ddl.drop && !ddl.drop_database {
                    state.drops.hold(op, seq, std::time::Instant::now());
                    return Ok(None);
                }
                self.apply_ddl_event(&op, seq, state).await?;
            }
            Translated::Skip => {
                self.progress.register_applied(meta.token);
            }
            Translated::Invalidate => {
                self.progress.register_applied(meta.token.clone());
                tracing::info!("change stream invalidated; reopening after it");
                return Ok(Some(meta.token));
            }
        }
        Ok(None)
    }

    async fn barrier(&self) -> Result<()> {
        if !self.router.drain().await {
            return Err(Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "DDL barrier",
                "a writer stopped",
            ));
        }
        Ok(())
    }

    /// Applies one DDL event (`seq` in the watermark) as a barrier.
    async fn apply_ddl_event(&self, op: &DdlOp, seq: u64, state: &mut StreamState) -> Result<()> {
        self.barrier().await?;
        // A replay must never cross a DDL: with the checkpoint exactly before it, a crash
        // during or after it replays only the DDL itself (idempotent), never the writes
        // before it (which would land in a renamed or dropped collection's old name).
        self.telemetry
            .retry("writing the checkpoint", || self.checkpointer.save_now())
            .await?;
        self.telemetry
            .retry("applying DDL to the target", || apply_ddl(&self.target, op))
            .await?;
        if let Some(read_at) = self.settle_gone_keys(op).await? {
            // Documents were just re-read at `read_at`: deltas up to then are in them
            // already, so those events are applied by re-reading too (as in a replay).
            if state
                .replay_until
                .is_none_or(|t| (t.time, t.increment) < (read_at.time, read_at.increment))
            {
                state.replay_until = Some(read_at);
            }
        }
        tracing::info!(ddl = ?describe(op), "applied DDL");
        self.progress.ack([seq], None, None);
        self.telemetry.metrics.batch_applied(&[("ddl", 1)], 1, 0.0);
        self.telemetry.status.add_applied("ddl", 1);
        self.telemetry
            .retry("writing the checkpoint", || self.checkpointer.save_now())
            .await
    }

    /// Applies the held collection drops, oldest first: no `dropDatabase` followed them.
    async fn release_drops(&self, state: &mut StreamState) -> Result<()> {
        for held in state.drops.take() {
            self.apply_ddl_event(&held.op, held.seq, state).await?;
        }
        Ok(())
    }

    /// Keys fetches found gone ([`crate::unresolved`]) after a DDL: a drop explains them; a
    /// rename carried their older versions to the new name, so they are re-read there (what is
    /// still not found waits under the new name). Returns the time of that read, if any.
    async fn settle_gone_keys(&self, op: &DdlOp) -> Result<Option<Timestamp>> {
        let (to, keys) = {
            let mut unresolved = self.checkpointer.unresolved.lock();
            match op {
                DdlOp::Drop { coll } => {
                    unresolved.drop_collection(coll);
                    return Ok(None);
                }
                DdlOp::DropDatabase => {
                    unresolved.clear();
                    return Ok(None);
                }
                DdlOp::Rename { from, to } => {
                    // With dropTarget, the old `to` and whatever waited under it are gone.
                    unresolved.drop_collection(to);
                    (to, unresolved.take(from))
                }
                _ => return Ok(None),
            }
        };
        if keys.is_empty() {
            return Ok(None);
        }
        let count = keys.len();
        let mut builder = crate::batch::BatchBuilder::new();
        for key in keys {
            builder.push(crate::translate::WriteOp {
                coll: to.clone(),
                key,
                kind: WriteKind::Fetch,
            });
        }
        let plan = builder.take_plan();
        let outcome = self
            .telemetry
            .retry("re-reading renamed documents", || {
                crate::apply::apply_plan(&self.source, &self.target, &plan)
            })
            .await?;
        tracing::info!(
            collection = %to,
            documents = count,
            found = outcome.found.len(),
            "re-read documents a fetch had missed before their collection was renamed"
        );
        let read_at = outcome
            .found
            .iter()
            .map(|f| f.at)
            .max_by_key(|t| (t.time, t.increment));
        let mut unresolved = self.checkpointer.unresolved.lock();
        for (coll, key) in outcome.gone {
            unresolved.record(&coll, key);
        }
        Ok(read_at)
    }

    /// Unique indexes deferred by the copy are built once the tail has caught up.
    async fn build_pending_indexes(&self) -> Result<()> {
        let pending = self.checkpointer.state.lock().await.pending_indexes.clone();
        if pending.is_empty() {
            return Ok(());
        }
        {
            let mut last = self.index_attempt.lock();
            if last.is_some_and(|t| t.elapsed() < INDEX_RETRY_EVERY) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        for entry in &pending {
            let coll = entry.get_str("collection").unwrap_or_default().to_string();
            let spec = entry.get_document("spec").cloned().unwrap_or_default();
            let op = DdlOp::CreateIndexes {
                coll,
                indexes: vec![spec],
            };
            let built = self
                .telemetry
                .retry("building a deferred unique index", || {
                    apply_ddl(&self.target, &op)
                })
                .await;
            match built {
                Ok(()) => {}
                // Duplicates on the target: either not caught up after all (try again later)
                // or a real divergence; visible either way, never fatal.
                Err(e) if e.kind == ErrorKind::Conflict => {
                    tracing::warn!(error = %e, "a deferred unique index cannot be built yet; will retry");
                    self.telemetry.record_error(&e);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.checkpointer.state.lock().await.pending_indexes.clear();
        self.telemetry.status.set_pending_indexes(Vec::new());
        self.telemetry
            .retry("writing the checkpoint", || self.checkpointer.save_state())
            .await?;
        tracing::info!(count = pending.len(), "built deferred unique indexes");
        Ok(())
    }
}

/// `events_applied_total{op}` label of an operation type.
pub fn op_label(op_type: &str) -> &'static str {
    match op_type {
        "insert" => "insert",
        "update" => "update",
        "replace" => "replace",
        "delete" => "delete",
        _ => "ddl",
    }
}

fn describe(op: &DdlOp) -> String {
    format!("{op:?}").chars().take(200).collect()
}
