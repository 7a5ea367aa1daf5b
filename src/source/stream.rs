//! Opening the source change stream: database level (cluster level for several databases),
//! expanded events, split large events where
//! the server can, `fullDocument` per update mode, resumed from an opaque token. Resume tokens
//! are stored and handed back as documents, never parsed.

use crate::config::UpdateMode;
use crate::error::codes::{INVALID_RESUME_TOKEN, UNRECOGNIZED_PIPELINE_STAGE};
use crate::error::{command_code, Class, Error, ErrorKind, Origin, Result};
use crate::source::Endpoint;
use bson::{doc, Document};
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where the stream (re)opens.
#[derive(Debug, Clone)]
pub enum StartAt {
    Now,
    ResumeAfter(Document),
    StartAfter(Document),
}

/// What the stream reads besides where: update mode, batch size, the collection filter.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions<'a> {
    pub mode: UpdateMode,
    pub batch_size: u32,
    /// `source.collections`: document events of other collections are filtered on the server.
    pub collections: Option<&'a [String]>,
    /// Ask for `fullDocumentBeforeChange` where the collection keeps pre-images (history on).
    pub pre_images: bool,
}

/// Document events: the only ones a collection filter drops.
const DOCUMENT_EVENTS: [&str; 4] = ["insert", "update", "replace", "delete"];

/// The stream's pipeline. With `collections`, a `$match` keeps the document events of those
/// collections and every other event (DDL such as a rename into a listed collection,
/// `dropDatabase`, `invalidate`), so filtered events never reach the replicator. Splitting
/// large events must be the last stage.
pub fn pipeline(collections: Option<&[String]>, split: bool) -> Vec<Document> {
    let mut stages = Vec::new();
    if let Some(list) = collections {
        stages.push(doc! {"$match": {"$or": [
            {"operationType": {"$nin": DOCUMENT_EVENTS.to_vec()}},
            {"ns.coll": {"$in": list.to_vec()}},
        ]}});
    }
    if split {
        stages.push(doc! {"$changeStreamSplitLargeEvent": {}});
    }
    stages
}

/// The cluster-level stream's pipeline: `filter` (the selected databases, as `ns` or a
/// rename's `to`), then splitting.
pub fn cluster_pipeline(filter: Document, split: bool) -> Vec<Document> {
    let mut stages = vec![doc! {"$match": filter}];
    if split {
        stages.push(doc! {"$changeStreamSplitLargeEvent": {}});
    }
    stages
}

/// The stream's current end on `source`: a token a tail resumes after so that nothing written
/// after this call is missed (the copy's start point). Fails when the server's reply carries
/// none (a server older than 4.0.7 sends no `postBatchResumeToken`).
pub async fn start_point(source: &Endpoint, mode: UpdateMode) -> Result<Document> {
    let stream = open_stream(source, &StartAt::Now, mode, START_POINT_BATCH).await?;
    start_token(&stream, "recording the start point")
}

/// The token of a stream just opened with [`START_POINT_BATCH`]: the stream's end, where a
/// start point resumes. Two-way sync takes its fresh direction tokens the same way.
pub fn start_token<T>(stream: &ChangeStream<T>, doing: &'static str) -> Result<Document>
where
    T: serde::de::DeserializeOwned + Unpin + Send + Sync,
{
    token_of(stream).ok_or_else(|| {
        Error::new(
            ErrorKind::Server,
            Class::Fatal,
            doing,
            "the server sent no resume token",
        )
        .at(Origin::Source)
    })
}

/// An empty first batch: the driver keeps the reply's `postBatchResumeToken` only from an
/// empty one, and a first batch of 1 already held an event under writes (then no token).
/// `batchSize: 0` makes the server return none, as MongoDB documents for `aggregate`.
pub const START_POINT_BATCH: u32 = 0;

/// Opens the change stream on `source` at `start`, every collection (the copy's start point).
pub async fn open_stream(
    source: &Endpoint,
    start: &StartAt,
    mode: UpdateMode,
    batch_size: u32,
) -> Result<ChangeStream<Document>> {
    let opts = StreamOptions {
        mode,
        batch_size,
        collections: None,
        pre_images: false,
    };
    open_stream_with(source, start, opts).await
}

/// Opens the change stream on `source` at `start` with `opts`. A token `resumeAfter` refuses
/// with 260 (the token of an `invalidate`, e.g. after a `dropDatabase`, saved as the
/// checkpoint) is opened again with `startAfter`, which accepts it as mongod documents; any
/// other bad token is refused by `startAfter` too.
pub async fn open_stream_with(
    source: &Endpoint,
    start: &StartAt,
    opts: StreamOptions<'_>,
) -> Result<ChangeStream<Document>> {
    let StreamOptions {
        mode, batch_size, ..
    } = opts;
    let split = !SPLIT_UNSUPPORTED.load(Ordering::Relaxed);
    // One selected database: its own stream. Several: the cluster's (`admin`,
    // `allChangesForCluster`), `$match`ed on the server to the selected databases.
    let w = match source.scope().single_database() {
        Some(_) => source
            .home()
            .watch()
            .pipeline(pipeline(opts.collections, split)),
        None => source
            .client()
            .watch()
            .pipeline(cluster_pipeline(source.scope().cluster_filter(), split)),
    };
    let mut w = w
        .show_expanded_events(true)
        .max_await_time(Duration::from_millis(500))
        .batch_size(batch_size);
    if mode == UpdateMode::FullDocument {
        w = w.full_document(FullDocumentType::UpdateLookup);
    }
    if opts.pre_images {
        w = w.full_document_before_change(FullDocumentBeforeChangeType::WhenAvailable);
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
            Box::pin(open_stream_with(source, start, opts)).await
        }
        Err(e) if command_code(&e) == Some(INVALID_RESUME_TOKEN) => match start {
            StartAt::ResumeAfter(t) => {
                tracing::info!(
                    "resumeAfter refused the resume token (an invalidate's): starting after it"
                );
                let after = StartAt::StartAfter(t.clone());
                Box::pin(open_stream_with(source, &after, opts)).await
            }
            _ => Err(Error::from_driver(
                Origin::Source,
                "opening the change stream",
                &e,
            )),
        },
        Err(e) => Err(Error::from_driver(
            Origin::Source,
            "opening the change stream",
            &e,
        )),
    }
}

/// Set once the source refused `$changeStreamSplitLargeEvent`.
static SPLIT_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

fn is_unknown_stage(e: &mongodb::error::Error) -> bool {
    command_code(e) == Some(UNRECOGNIZED_PIPELINE_STAGE)
        || matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.message.contains("$changeStreamSplitLargeEvent"))
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
pub fn token_of<T>(stream: &ChangeStream<T>) -> Option<Document>
where
    T: serde::de::DeserializeOwned + Unpin + Send + Sync,
{
    token_document(&stream.resume_token()?)
}

/// A resume token as the document it is (stored and compared opaquely).
pub fn token_document(t: &ResumeToken) -> Option<Document> {
    match bson::to_bson(t) {
        Ok(bson::Bson::Document(d)) => Some(d),
        _ => None,
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
