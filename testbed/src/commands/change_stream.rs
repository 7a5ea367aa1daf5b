//! `aggregate` with a leading `$changeStream` stage, and `getMore` on change-stream cursors.
//! The first reply returns at once with what is available; `getMore` long-polls up to
//! `maxTimeMS` (drivers send their `maxAwaitTimeMS` there; default 1 s). Every reply carries
//! `postBatchResumeToken`; the cursor id becomes 0 once an invalidate was returned.

use super::{args, read::cursor_reply};
use crate::changestream::{ChangeStream, Scope};
use crate::cursor::{Cursor, Source};
use crate::error::{CmdError, CmdResult};
use crate::failpoint::RESUMABLE_CHANGE_STREAM_CODES;
use crate::pipeline::Pipeline;
use crate::server::ServerState;
use crate::store::Namespace;
use bson::{Bson, Document};
use std::sync::Arc;
use std::time::Duration;

/// Events per batch when the client gives no `batchSize`.
const DEFAULT_BATCH: usize = 1000;
/// How long a `getMore` waits for the first event when the client does not say.
const DEFAULT_AWAIT: Duration = Duration::from_secs(1);

fn scope_of(db: &str, cmd: &Document, stage: &Document) -> CmdResult<(Scope, String)> {
    let cluster = stage.get_bool("allChangesForCluster").unwrap_or(false);
    match cmd.get("aggregate") {
        Some(Bson::String(coll)) if !cluster => Ok((
            Scope::Collection(Namespace::new(db, coll.clone())),
            format!("{db}.{coll}"),
        )),
        Some(Bson::Int32(1)) | Some(Bson::Int64(1)) | Some(Bson::Double(1.0)) => {
            if cluster {
                if db != "admin" {
                    return Err(CmdError::bad_value("$changeStream with allChangesForCluster must run against the 'admin' database"));
                }
                Ok((Scope::Cluster, "admin.$cmd.aggregate".to_string()))
            } else if matches!(db, "admin" | "config" | "local") {
                Err(CmdError::bad_value(format!(
                    "$changeStream may not be opened on the internal {db} database"
                )))
            } else {
                Ok((
                    Scope::Database(db.to_string()),
                    format!("{db}.$cmd.aggregate"),
                ))
            }
        }
        _ => Err(CmdError::bad_value(
            "A collection-level $changeStream cannot set allChangesForCluster",
        )),
    }
}

fn stream_reply(
    ns: &str,
    id: i64,
    batch: Vec<Document>,
    first: bool,
    stream: &ChangeStream,
) -> Document {
    let mut reply = cursor_reply(ns, id, batch, first);
    if let Ok(cursor) = reply.get_document_mut("cursor") {
        cursor.insert("postBatchResumeToken", stream.post_batch_resume_token());
    }
    reply
}

/// Adds `ResumableChangeStreamError` to an error of a change-stream command when its code is
/// one a driver may resume after, as 4.4+ servers do (drivers on wire version 9+ resume on the
/// label alone).
pub(super) fn label_resumable(e: CmdError) -> CmdError {
    if RESUMABLE_CHANGE_STREAM_CODES.contains(&e.code) {
        e.with_label("ResumableChangeStreamError")
    } else {
        e
    }
}

const SPLIT_STAGE: &str = "$changeStreamSplitLargeEvent";

/// Takes `$changeStreamSplitLargeEvent` off the end of the stages after `$changeStream`;
/// true when it was there. Errors as mongod: the stage elsewhere 7182802, a non-empty
/// spec 7182800.
fn split_stage(rest: &[Document]) -> CmdResult<(&[Document], bool)> {
    let is_split = |d: &Document| d.contains_key(SPLIT_STAGE);
    let (rest, split) = match rest.split_last() {
        Some((last, init)) if is_split(last) => {
            if !matches!(last.get(SPLIT_STAGE), Some(Bson::Document(spec)) if spec.is_empty()) {
                return Err(CmdError::new(
                    7182800,
                    "Location7182800",
                    format!("{SPLIT_STAGE} spec should be an empty object"),
                ));
            }
            (init, true)
        }
        _ => (rest, false),
    };
    if rest.iter().any(is_split) {
        return Err(CmdError::new(
            7182802,
            "Location7182802",
            format!("{SPLIT_STAGE} must be the last stage in the pipeline"),
        ));
    }
    Ok((rest, split))
}

/// Opens the stream and returns the first batch without waiting for events.
pub(super) async fn open(
    state: &Arc<ServerState>,
    db: &str,
    cmd: &Document,
    stage: &Document,
    rest: &[Document],
    batch_size: Option<usize>,
) -> CmdResult<Document> {
    let (scope, ns) = scope_of(db, cmd, stage)?;
    let (rest, split) = split_stage(rest)?;
    let post = Pipeline::new(rest)?;
    let mut stream = ChangeStream::open(state.store.clone(), scope, stage, post)?;
    if split {
        stream = stream.split_large_events();
    }
    let batch = match batch_size {
        Some(0) => Vec::new(),
        n => stream.next_batch(n.unwrap_or(DEFAULT_BATCH), None).await?,
    };
    let closed = stream.is_closed();
    let mut reply = stream_reply(&ns, 0, batch, true, &stream);
    if !closed {
        let id = state.cursors.insert(Cursor {
            ns,
            source: Source::ChangeStream(Box::new(stream)),
        });
        if let Ok(cursor) = reply.get_document_mut("cursor") {
            cursor.insert("id", id);
        }
    }
    Ok(reply)
}

/// A `getMore` on a checked-out change-stream cursor; checks it back in unless it closed or failed.
pub(super) async fn get_more(
    state: &Arc<ServerState>,
    id: i64,
    ns: String,
    mut stream: Box<ChangeStream>,
    batch_size: usize,
    cmd: &Document,
) -> CmdResult<Document> {
    let wait = match args::opt_i64(cmd, "maxTimeMS")? {
        Some(ms) if ms > 0 => Duration::from_millis(ms as u64),
        _ => DEFAULT_AWAIT,
    };
    let max = if batch_size == 0 {
        DEFAULT_BATCH
    } else {
        batch_size
    };
    // On error the cursor is gone, as mongod kills a cursor whose getMore failed.
    let batch = stream
        .next_batch(max, Some(wait))
        .await
        .map_err(label_resumable)?;
    let reply_id = if stream.is_closed() { 0 } else { id };
    let reply = stream_reply(&ns, reply_id, batch, false, &stream);
    if reply_id != 0 {
        state.cursors.check_in(
            id,
            Cursor {
                ns,
                source: Source::ChangeStream(stream),
            },
        );
    }
    Ok(reply)
}
