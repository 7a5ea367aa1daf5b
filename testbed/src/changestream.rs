//! Change streams: `$changeStream` options, events rendered from the oplog with the documented
//! shapes, opaque resume tokens, resume / startAfter / startAtOperationTime, history lost (286).
//!
//! A stream is a position in the server-wide oplog. Each `next_batch` copies a chunk of entries
//! out under the oplog lock (no lock is held while rendering or waiting), renders the events
//! this stream's scope sees after its position, runs the post-stage pipeline on each and
//! advances. When the oplog is trimmed past the position, the stream fails with 286.
// `CmdError` is large by design (whole mongod error replies); results carry it unboxed.
#![allow(clippy::result_large_err)]

mod event;
mod options;
mod token;

use crate::error::{CmdError, CmdResult};
use crate::pipeline::Pipeline;
use crate::store::oplog::Position;
use crate::store::{Namespace, Store};
use bson::{Bson, Document};
use options::{Options, Origin};
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
        let pos = match opts.start {
            Origin::Now => Position::new(last_ts, Position::AFTER),
            Origin::ResumeAfter(p) | Origin::StartAfter(p) => p,
            Origin::AtOperationTime(ts) => Position::new(ts, Position::BEFORE),
        };
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
        })
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
        let mut batch = Vec::new();
        self.last_event = None;
        if self.closed || max == 0 {
            return Ok(batch);
        }
        let store = self.store.clone();
        let lookup = |ns: &Namespace, id: &Bson| store.find_by_id(ns, id);
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
                    self.pos = pos;
                    if let Some(out) = out {
                        if out.get("_id") != token.as_ref() {
                            return Err(id_modified());
                        }
                        self.last_event = token.and_then(|t| t.as_document().cloned());
                        batch.push(out);
                    }
                    if invalidate {
                        self.closed = true;
                        return Ok(batch);
                    }
                    if batch.len() >= max {
                        return Ok(batch);
                    }
                }
                // Entries this stream does not see still move it forward.
                self.pos = self.pos.max(Position::new(entry.ts, Position::AFTER));
            }
            if exhausted {
                self.pos = self.pos.max(Position::new(read.last_ts, Position::AFTER));
                return Ok(batch);
            }
        }
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
