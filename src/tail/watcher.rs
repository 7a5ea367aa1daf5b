//! Reads the database-level change stream and feeds the pipeline: every event gets a sequence
//! number in the watermark, write ops go to their writer, DDL runs as a barrier, idle batches
//! advance the watermark with `postBatchResumeToken`. Resume tokens are opaque: stored and
//! handed back, never parsed. Reopens with `resumeAfter` on transient errors, `startAfter`
//! after `invalidate`; history lost (286) ends the tail for the caller to decide.

use crate::error::retry::{backoff, decide, Decision};
use crate::error::{Error, Origin, Result};
use crate::ops::{Op, Reporter, Side};
use crate::source::translate::ClusterTime;
use crate::source::translate::{
    read_shared, DdlOp, Event, TranslateOptions, Translated, WriteKind,
};
use crate::source::Endpoint;
use crate::source::{open_stream_with, token_document, StartAt, StreamOptions};
use crate::state::checkpointer::Checkpointer;
use crate::state::Position;
use crate::tail::drop_hold::{DropHold, Verdict};
use crate::tail::read_ahead::{Next, ReadAhead};
use crate::tail::router::Item;
use crate::tail::router::Router;
use backon::BackoffBuilder;
use bson::{Document, RawDocument, RawDocumentBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Watcher {
    pub source: Endpoint,
    pub target: Endpoint,
    pub translate: TranslateOptions,
    pub batch_size: u32,
    pub position: Arc<Position>,
    pub reporter: Reporter,
    pub checkpointer: Arc<Checkpointer>,
    pub router: Router,
    /// When deferred unique indexes were last attempted (attempts are spaced out).
    pub index_attempt: parking_lot::Mutex<Option<std::time::Instant>>,
    /// What an operator paused, and the events held for paused collections ([`super::pause_gate`]).
    pub pauses: Arc<crate::control::Pauses>,
    pub held: super::pause_gate::HeldItems,
    /// `apply.delay_seconds` ([`super::delay`]).
    pub delay: Duration,
    /// Destructive changes held for an operator ([`super::hold_gate`]).
    pub hold: super::hold_gate::HoldGate,
    /// `[history] enabled`: ask for pre-images, keep dropped documents restorable.
    pub history: Option<Arc<crate::history::changes::Changes>>,
    /// Two source names meeting on one target ([`super::collisions`]).
    pub collisions: super::collisions::Collisions,
}

/// What the watcher carries from one event to the next.
#[derive(Default)]
pub(super) struct StreamState {
    /// Deltas of events up to this time are applied by re-reading the document.
    pub(super) replay_until: Option<ClusterTime>,
    /// Collection drops that may belong to a `dropDatabase` (only with `drop_database = false`).
    pub(super) drops: DropHold,
}

/// How often building deferred unique indexes is retried after a duplicate-key refusal.
pub(super) const INDEX_RETRY_EVERY: Duration = Duration::from_secs(30);

impl Watcher {
    /// Runs until `stop` (Ok) or an error the caller must handle (history lost, fatal).
    /// `replay`: the target may be ahead of `start` (after a copy, or a crash after the last
    /// checkpoint); then deltas of events up to now are applied by re-reading the document,
    /// which is exact where a delta over a newer version could reorder fields.
    pub async fn run(&self, start: StartAt, replay: bool, stop: &CancellationToken) -> Result<()> {
        let outcome = self.tail(start, replay, stop).await;
        // What the router still queues was read and registered: it is applied on a stop too.
        let flushed = self.flush_routed().await;
        outcome.and(flushed)
    }

    /// Sends the writers every item the router still queues ([`Router::flush`]): before any
    /// wait, so nothing routed sits unapplied while the watcher waits.
    pub(super) async fn flush_routed(&self) -> Result<()> {
        match self.router.flush().await {
            true => Ok(()),
            false => Err(Error::new(
                crate::error::ErrorKind::Internal,
                crate::error::Class::Fatal,
                "routing",
                "a writer stopped",
            )),
        }
    }

    async fn tail(&self, mut start: StartAt, replay: bool, stop: &CancellationToken) -> Result<()> {
        let mode = self.translate.update_mode;
        // Document events of collections no rule names stay on the server.
        let collections = self.translate.scope.stream_collections();
        let opts = StreamOptions {
            mode,
            batch_size: self.batch_size,
            collections: collections.as_deref(),
            pre_images: self.history.is_some(),
        };
        let replay_until = if replay {
            self.reporter
                .retry("reading the source operation time", || {
                    crate::source::connect::operation_time(&self.source)
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
        let mut fragments = crate::source::split::Reassembler::default();
        loop {
            let mut stream = tokio::select! {
                s = self.reporter.retry("opening the change stream", || open_stream_with(&self.source, &start, opts)) => ReadAhead::start(s?.with_type::<RawDocumentBuf>(), self.batch_size as usize),
                _ = stop.cancelled() => return Ok(()),
            };
            self.reporter.set_stream_open(true);
            self.reporter.set_up(Side::Source, true);
            // The stream's token at its last empty `getMore` (failures and closes carry the
            // current one). Kept raw: decoded only when used (decoding it after every event
            // cost 7% of the replicator's CPU in a catch-up, README "Performance").
            let mut last_token = None;
            // `is_cancelled` takes a lock (1.3% of the CPU when asked per event): asked every
            // `STOP_EVERY` events; every wait below also selects on the stop.
            let mut until_stop_check = 0u32;
            let reopen = loop {
                if until_stop_check == 0 {
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                    until_stop_check = STOP_EVERY;
                }
                until_stop_check -= 1;
                // An event read already is handled at once; before waiting for the reader, the
                // routed items go to the writers.
                let next = match stream.ready() {
                    Some(n) => n,
                    None => {
                        self.flush_routed().await?;
                        tokio::select! {
                            n = stream.next() => n.unwrap_or_else(|| Next::Closed(last_token.clone())),
                            _ = stop.cancelled() => return Ok(()),
                        }
                    }
                };
                match next {
                    Next::Event(event) => {
                        self.position.set_stream_idle(false);
                        failures = backoff().build();
                        let Some((bytes, read)) = self.read(&mut fragments, event)? else {
                            continue;
                        };
                        let event = RawDocument::from_bytes(&bytes).map_err(|e| {
                            Error::malformed(
                                Origin::Source,
                                "reading a change event",
                                e.to_string(),
                            )
                        })?;
                        self.act_on_holds(&mut state, stop).await?;
                        // The delay first: a pause asked during it still stops this event.
                        if !self.delay_gate(event, &mut state, stop).await? {
                            return Ok(());
                        }
                        if !self.pause_gate(event, stop).await? {
                            return Ok(());
                        }
                        if let Some(invalidated) =
                            self.handle_event(event, read, &mut state, stop).await?
                        {
                            break StartAt::StartAfter(invalidated);
                        }
                    }
                    Next::Idle(token) => {
                        self.release_held().await?;
                        self.act_on_holds(&mut state, stop).await?;
                        if state.drops.expired(std::time::Instant::now()) {
                            // No `dropDatabase` came: they were ordinary collection drops.
                            self.release_drops(&mut state, stop).await?;
                        }
                        self.position.set_stream_idle(true);
                        if let Some(t) = token {
                            if last_token.as_ref() != Some(&t) {
                                if let Some(d) = token_document(&t) {
                                    self.position.register_applied(d);
                                }
                                last_token = Some(t);
                            }
                        }
                        if self.position.pending() == 0 {
                            self.build_pending_indexes().await?;
                        }
                    }
                    Next::Failed(e, token) => {
                        self.flush_routed().await?;
                        let err =
                            Error::from_driver(Origin::Source, "reading the change stream", &e);
                        // Lost history and fatal errors end the tail (for the caller to decide).
                        if decide(&err) != Decision::Backoff {
                            return Err(err);
                        }
                        self.reporter.set_stream_open(false);
                        self.reporter
                            .retrying("change stream interrupted; resuming", &err);
                        let wait = failures.next().unwrap_or(Duration::from_secs(5));
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = stop.cancelled() => return Ok(()),
                        }
                        let last = last_token.as_ref().and_then(token_document);
                        break match token.as_ref().and_then(token_document).or(last) {
                            Some(t) => StartAt::ResumeAfter(t),
                            None => start.clone(),
                        };
                    }
                    Next::Closed(token) => {
                        // The server closed the cursor without an invalidate we saw: resume
                        // where we are.
                        break match token.as_ref().and_then(token_document) {
                            Some(t) => StartAt::ResumeAfter(t),
                            None => start.clone(),
                        };
                    }
                }
            };
            self.reporter.set_stream_open(false);
            start = reopen;
        }
    }

    /// Reads `event` once ([`read_shared`]: the documents it carries stay in its buffer); a
    /// fragment of a split event goes to the reassembler, and the whole event, once complete,
    /// is read instead. `None`: a fragment was kept, nothing to handle yet.
    fn read(
        &self,
        fragments: &mut crate::source::split::Reassembler,
        event: RawDocumentBuf,
    ) -> Result<Option<(bytes::Bytes, Event)>> {
        let bad = |e: crate::source::translate::TranslateError| {
            Error::malformed(Origin::Source, "translating a change event", e.to_string())
        };
        // The driver's buffer, taken over (no copy).
        let bytes = bytes::Bytes::from(event.into_bytes());
        let read = read_shared(&bytes, &self.translate);
        // A fragment may lack what a whole event has: its read failing is no verdict yet.
        let split = read
            .as_ref()
            .map_or_else(|_| is_fragment(&bytes), |r| r.split);
        if !split && !fragments.is_pending() {
            return read.map(|r| Some((bytes, r))).map_err(bad);
        }
        let whole = reassemble(fragments, &bytes)
            .map_err(|m| Error::malformed(Origin::Source, "reassembling a split event", m))?;
        match whole {
            Some(whole) => {
                let whole = bytes::Bytes::from(whole.into_bytes());
                let read = read_shared(&whole, &self.translate).map_err(bad)?;
                Ok(Some((whole, read)))
            }
            None => Ok(None),
        }
    }

    /// Handles `event`, read as `read`. Returns `Some(token)` when the event invalidated the
    /// stream.
    async fn handle_event(
        &self,
        event: &RawDocument,
        read: Event,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<Option<Document>> {
        let (meta, translated) = (read.meta, read.translated);
        self.reporter.event_received();
        if !state.drops.is_empty() {
            // The held drops belong to a `dropDatabase` of their own database.
            let scope = &self.translate.scope;
            let this_db = event
                .get_document("ns")
                .and_then(|ns| ns.get_str("db"))
                .is_ok_and(|db| {
                    state
                        .drops
                        .all_collections(|key| scope.in_database(key, db))
                });
            match DropHold::verdict(&meta.op_type, this_db) {
                Verdict::Hold => {}
                Verdict::Discard => {
                    let kept = state.drops.take();
                    tracing::info!(
                        collections = kept.len(),
                        "the source database was dropped; the backup keeps its collections (apply.ddl.drop_database = false)"
                    );
                    self.position.ack(kept.iter().map(|d| d.seq), None, None);
                }
                Verdict::Release => self.release_drops(state, stop).await?,
            }
        }
        self.collisions.check(&translated)?;
        match translated {
            Translated::Write(mut op) => {
                let mut replayed = None;
                if let (WriteKind::Delta { .. }, Some(ct), Some(until)) =
                    (&op.kind, meta.cluster_time, state.replay_until)
                {
                    if ct <= until {
                        replayed = Some(std::mem::replace(&mut op.kind, WriteKind::Fetch));
                    }
                }
                let op_label = Op::of_operation_type(&meta.op_type);
                let seq = self.position.register(meta.token, meta.wall_time_ms);
                self.position.note_cluster_time(seq, meta.cluster_time);
                let item = Item {
                    seq,
                    op,
                    op_label,
                    wall_ms: meta.wall_time_ms,
                    cluster_time: meta.cluster_time,
                    coll_uuid: read.coll_uuid,
                    // Only read with history on (a lookup by name scans the event).
                    pre_image: self
                        .history
                        .as_ref()
                        .and_then(|_| crate::history::changes::pre_image(event)),
                    event: replayed.map(Box::new),
                    grant: None,
                };
                self.gate_write(item, state, stop).await?;
            }
            Translated::Ddl(op) => {
                // Pending in the watermark until applied (or discarded, for a held drop).
                let seq = self.position.register(meta.token, meta.wall_time_ms);
                self.position.note_cluster_time(seq, meta.cluster_time);
                if let (Some(h), Some(ct)) = (&self.history, meta.cluster_time) {
                    h.ddl_seen(seq, ct);
                }
                self.before_ddl(stop).await?;
                let ddl = &self.translate.ddl;
                if matches!(op, DdlOp::Drop { .. }) && ddl.drop && !ddl.drop_database {
                    state.drops.hold(op, seq, std::time::Instant::now());
                    return Ok(None);
                }
                // A rename the copy already followed by UUID (issue 11 item 1).
                let copied = self.checkpointer.state.lock().await.copied.clone();
                let uuid = Document::try_from(event)
                    .ok()
                    .and_then(|e| crate::bulk::follow::event_uuid(&e));
                let replayed = crate::bulk::follow::replayed(
                    op,
                    uuid.as_deref(),
                    meta.cluster_time,
                    copied.as_ref(),
                );
                use crate::bulk::follow::Replayed;
                match replayed {
                    Replayed::Apply(op) => {
                        let replaces = crate::source::translate::replaced_a_collection(event);
                        self.gate_ddl((op, seq), replaces, state, stop).await?
                    }
                    Replayed::DropFirst { stale, op } => {
                        self.barrier().await?;
                        let drop = DdlOp::Drop { coll: stale };
                        self.reporter
                            .retry("dropping a stale copy", || {
                                crate::apply::ddl::apply_ddl(&self.target, &drop)
                            })
                            .await?;
                        self.apply_ddl_event(&op, seq, state).await?
                    }
                    Replayed::Skip => self.position.ack([seq], None, None),
                }
            }
            Translated::Skip => {
                self.position.register_applied(meta.token);
            }
            Translated::Invalidate => {
                let token = Document::try_from(meta.token.as_ref()).map_err(|e| {
                    Error::malformed(Origin::Source, "reading a resume token", e.to_string())
                })?;
                self.position.register_applied(meta.token);
                tracing::info!("change stream invalidated; reopening after it");
                return Ok(Some(token));
            }
        }
        Ok(None)
    }
}

/// Events handled between two checks of the stop when none waits (a check takes a lock).
const STOP_EVERY: u32 = 64;

/// Whether `event` carries `splitEvent` (read by name: only for an event whose read failed).
fn is_fragment(event: &[u8]) -> bool {
    RawDocument::from_bytes(event).is_ok_and(|e| e.get("splitEvent").is_ok_and(|s| s.is_some()))
}

/// Split events are reassembled as documents (rare: events over 16 MiB).
fn reassemble(
    fragments: &mut crate::source::split::Reassembler,
    event: &[u8],
) -> std::result::Result<Option<RawDocumentBuf>, String> {
    let event = RawDocument::from_bytes(event).map_err(|e| e.to_string())?;
    let whole = fragments.feed(Document::try_from(event).map_err(|e| e.to_string())?)?;
    whole
        .map(|d| RawDocumentBuf::from_document(&d).map_err(|e| e.to_string()))
        .transpose()
}
