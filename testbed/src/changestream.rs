//! Change streams: `$changeStream` options, events rendered from the oplog with the documented
//! shapes, opaque resume tokens, resume / startAfter / startAtOperationTime, history lost (286).
// OWNER: store helper.

use crate::error::CmdResult;
use crate::pipeline::Pipeline;
use crate::store::{Namespace, Store};
use bson::Document;
use std::sync::Arc;
use std::time::Duration;

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
    _store: Arc<Store>,
}

impl ChangeStream {
    /// `stage` is the body of the `$changeStream` stage; `post` the stages after it.
    /// Errors as mongod: bad options `FailedToParse`/`BadValue`, a resume point no longer in the oplog 286.
    pub fn open(store: Arc<Store>, scope: Scope, stage: &Document, post: Pipeline) -> CmdResult<Self> {
        let _ = (store, scope, stage, post);
        todo!("store")
    }

    /// Up to `max` events; waits up to `max_await` for the first one when none is ready (`None`: do not wait).
    pub async fn next_batch(&mut self, max: usize, max_await: Option<Duration>) -> CmdResult<Vec<Document>> {
        let _ = (max, max_await);
        todo!("store")
    }

    /// The `postBatchResumeToken` to send with the batch just returned.
    pub fn post_batch_resume_token(&self) -> Document {
        todo!("store")
    }

    /// True once an `invalidate` event was returned: the cursor is then closed (id 0).
    pub fn is_closed(&self) -> bool {
        todo!("store")
    }
}
