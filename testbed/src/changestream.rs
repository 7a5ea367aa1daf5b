//! Change streams: `$changeStream` options, events rendered from the oplog with the documented
//! shapes, opaque resume tokens, resume / startAfter / startAtOperationTime, history lost (286).
//!
//! A stream is a position in the server-wide oplog. Each `next_batch` copies a chunk of entries
//! out under the oplog lock (no lock is held while rendering or waiting), renders the events
//! this stream's scope sees after its position, runs the post-stage pipeline on each and
//! advances. When the oplog is trimmed past the position, the stream fails with 286.
//! An event too large to send fails the stream with 10334, or is sent as fragments when the
//! pipeline ends with `$changeStreamSplitLargeEvent` (see `split`). Batches stop at 16 MiB.
// `CmdError` is large by design (whole mongod error replies); results carry it unboxed.
#![allow(clippy::result_large_err)]

mod event;
mod options;
mod split;
mod token;

use crate::cursor::{bson_size, MAX_BATCH_BYTES};
use crate::error::{CmdError, CmdResult};
use crate::pipeline::Pipeline;
use crate::store::oplog::Position;
use crate::store::{Namespace, Store};
use bson::{Bson, Document};
use options::{Options, Origin};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How many oplog entries one read copies out under the lock.
const READ_CHUNK: usize = 1024;

/// What the stream watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// `admin` with `allChangesForCluster: true`.
    Cluster,
    /// `aggregate: 1` on a database.
    Database(String),
    Collection(Namespace),
}

/// An open change stream (one cursor). Events are produced in cluster-time order.
pub struct ChangeStream {
    store: Arc<Store>,
    scope: Scope,
    opts: Options,
    post: Pipeline,
    /// Everything at or before this position was returned or skipped.
    pos: Position,
    /// Token of the last event of the last non-empty batch.
    last_event: Option<Document>,
    changes: watch::Receiver<u64>,
    closed: bool,
    /// `$changeStreamSplitLargeEvent` ends the pipeline.
    split: bool,
    /// Resuming from a fragment: the first fragments of the event at this position were
    /// already delivered, up to this 0-based fragment number.
    resume_fragment: Option<(Position, u16)>,
    /// Rendered output not yet sent (the rest of a split event, or what did not fit a batch),
    /// each with whether it is an invalidate.
    ready: VecDeque<(Document, bool)>,
}

/// Resuming from a fragment of an event this stream does not split the same way (280).
fn different_split(msg: &str) -> CmdError {
    CmdError::new(
        crate::error::code::CHANGE_STREAM_FATAL_ERROR,
        "ChangeStreamFatalError",
        msg,
    )
}

fn history_lost() -> CmdError {
    CmdError::history_lost(
        "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
    )
}

/// A post-stage pipeline that altered `_id` makes the stream unresumable (280, as mongod).
fn id_modified() -> CmdError {
    CmdError::new(
        crate::error::code::CHANGE_STREAM_FATAL_ERROR,
        "ChangeStreamFatalError",
        "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.",
    )
    .with_label("NonResumableChangeStreamError")
}

impl ChangeStream {
    /// `stage` is the body of the `$changeStream` stage; `post` the stages after it.
    /// Errors as mongod: bad options `FailedToParse`/`BadValue`, a resume point no longer in the oplog 286.
    pub fn open(
        store: Arc<Store>,
        scope: Scope,
        stage: &Document,
        post: Pipeline,
    ) -> CmdResult<Self> {
        let opts = options::parse(stage)?;
        let changes = store.subscribe();
        let (history_start, last_ts) = store.oplog_bounds();
        let mut pos = match opts.start {
            Origin::Now => Position::new(last_ts, Position::AFTER),
            Origin::ResumeAfter(p) | Origin::StartAfter(p) => p,
            Origin::AtOperationTime(ts) => Position::new(ts, Position::BEFORE),
        };
        // From a fragment, the event is rendered again and its fragments up to it skipped.
        let resume_fragment = opts.start_fragment.map(|n| (pos, n));
        if resume_fragment.is_some() {
            pos.kind = Position::BEFORE;
        }
        if pos < history_start {
            return Err(history_lost());
        }
        Ok(ChangeStream {
            store,
            scope,
            opts,
            post,
            pos,
            last_event: None,
            changes,
            closed: false,
            split: false,
            resume_fragment,
            ready: VecDeque::new(),
        })
    }

    /// Splits events too large to send (the pipeline ended with `$changeStreamSplitLargeEvent`).
    pub fn split_large_events(mut self) -> Self {
        self.split = true;
        self
    }

    /// Up to `max` events; waits up to `max_await` for the first one when none is ready (`None`: do not wait).
    pub async fn next_batch(
        &mut self,
        max: usize,
        max_await: Option<Duration>,
    ) -> CmdResult<Vec<Document>> {
        let deadline = max_await.map(|d| tokio::time::Instant::now() + d);
        loop {
            self.changes.borrow_and_update();
            let batch = self.read_batch(max)?;
            if !batch.is_empty() || self.closed || max == 0 {
                return Ok(batch);
            }
            let Some(deadline) = deadline else {
                return Ok(batch);
            };
            match tokio::time::timeout_at(deadline, self.changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(batch),
            }
        }
    }

    /// Renders what is available now, without waiting.
    fn read_batch(&mut self, max: usize) -> CmdResult<Vec<Document>> {
        let mut batch = Batch::default();
        self.last_event = None;
        if max == 0 {
            return Ok(batch.docs);
        }
        if !self.fill(&mut batch, max) || self.closed {
            return Ok(batch.docs);
        }
        let store = self.store.clone();
        let current = |ns: &Namespace, id: &Bson| store.find_by_id(ns, id);
        let pre_image = |uuid: &bson::Binary, ts: bson::Timestamp| store.pre_image(uuid, ts);
        let lookup = event::Lookup {
            current: &current,
            pre_image: &pre_image,
        };
        loop {
            let read = self.store.read_oplog(self.pos.ts, READ_CHUNK);
            if self.pos < read.history_start {
                return Err(history_lost());
            }
            let exhausted = read.entries.len() < READ_CHUNK;
            for entry in &read.entries {
                for (pos, ev) in event::render(entry, &self.scope, &self.opts, &lookup)? {
                    if pos <= self.pos {
                        continue;
                    }
                    let token = ev.get("_id").cloned();
                    let invalidate = pos.kind == Position::INVALIDATE;
                    let out = self.post.run_one(ev)?;
                    if let Some(out) = out {
                        if out.get("_id") != token.as_ref() {
                            return Err(id_modified());
                        }
                        for doc in self.sendable(out, pos)? {
                            self.ready.push_back((doc, invalidate));
                        }
                    }
                    self.pos = pos;
                    if !self.fill(&mut batch, max) || self.closed {
                        return Ok(batch.docs);
                    }
                }
                // Entries this stream does not see still move it forward.
                self.pos = self.pos.max(Position::new(entry.ts, Position::AFTER));
            }
            if exhausted {
                self.pos = self.pos.max(Position::new(read.last_ts, Position::AFTER));
                return Ok(batch.docs);
            }
        }
    }

    /// Moves ready output into `batch` while it has room; false once the batch is full.
    /// Returning an invalidate closes the stream.
    fn fill(&mut self, batch: &mut Batch, max: usize) -> bool {
        while let Some((doc, _)) = self.ready.front() {
            if batch.docs.len() >= max || !batch.fits(doc) {
                return false;
            }
            let (doc, invalidate) = self.ready.pop_front().expect("front exists");
            self.last_event = doc.get_document("_id").ok().cloned();
            batch.push(doc);
            if invalidate {
                self.closed = true;
                return false;
            }
        }
        batch.docs.len() < max
    }

    /// What the client receives for the event at `pos`: the event itself, its fragments when
    /// it is too large and the stream splits (less those already delivered before a resume),
    /// or BSONObjectTooLarge (10334) as mongod when it is too large to send whole.
    fn sendable(&mut self, out: Document, pos: Position) -> CmdResult<Vec<Document>> {
        let size = bson_size(&out);
        let skip = match self.resume_fragment.take() {
            Some((at, n)) if at == pos => Some(n),
            Some(other) if other.0 > pos => {
                self.resume_fragment = Some(other);
                None
            }
            _ => None,
        };
        if !self.split || size <= split::MAX_EVENT_SIZE {
            if size > split::MAX_INTERNAL_SIZE {
                return Err(split::too_large(size, out.get("_id")));
            }
            if skip.is_some() {
                return Err(different_split("Attempted to resume from a split event fragment, but the event in the resumed stream was not large enough to be split"));
            }
            return Ok(vec![out]);
        }
        let token_size = out.get_document("_id").map(bson_size).unwrap_or(0);
        let fragments = split::split(out, split::MAX_EVENT_SIZE - token_size, |n| {
            token::encode_fragment(pos, n)
        })?;
        let skip = skip.map_or(0, |n| usize::from(n) + 1);
        if skip > fragments.len() {
            return Err(different_split("Attempted to resume from a split event, but the resumed stream produced a different split. Ensure that the pipeline used to resume is the same as the original"));
        }
        Ok(fragments.into_iter().skip(skip).collect())
    }

    /// The `postBatchResumeToken` to send with the batch just returned.
    pub fn post_batch_resume_token(&self) -> Document {
        self.last_event
            .clone()
            .unwrap_or_else(|| token::encode(self.pos))
    }

    /// True once an `invalidate` event was returned: the cursor is then closed (id 0).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// A batch being filled: at most 16 MiB of documents, as mongod's replies, but always one.
#[derive(Default)]
struct Batch {
    docs: Vec<Document>,
    bytes: usize,
}

impl Batch {
    fn fits(&self, doc: &Document) -> bool {
        self.docs.is_empty() || self.bytes + bson_size(doc) <= MAX_BATCH_BYTES
    }

    fn push(&mut self, doc: Document) {
        self.bytes += bson_size(&doc);
        self.docs.push(doc);
    }
}
