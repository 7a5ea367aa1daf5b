//! Aggregation stages over documents: `$match $project $addFields/$set $unset $group $sort $limit $skip $count`.
//! Also applied to change events after `$changeStream`.
// OWNER: query-engine helper.

use crate::error::CmdResult;
use bson::Document;

/// A parsed pipeline (without `$changeStream`).
#[derive(Debug, Clone)]
pub struct Pipeline {
    _stages: Vec<Document>,
}

impl Pipeline {
    /// Parses stages; an unsupported stage is an error naming it.
    pub fn new(stages: &[Document]) -> CmdResult<Self> {
        let _ = stages;
        todo!("query-engine")
    }

    /// Runs the whole pipeline over `input`.
    pub fn run(&self, input: Vec<Document>) -> CmdResult<Vec<Document>> {
        let _ = input;
        todo!("query-engine")
    }

    /// Runs per-document stages (`$match`, `$project`, `$addFields`, `$set`, `$unset`, `$replaceRoot`) on one
    /// document; `None` when filtered out. Used for change events.
    pub fn run_one(&self, doc: Document) -> CmdResult<Option<Document>> {
        let _ = doc;
        todo!("query-engine")
    }

    /// The leading `$match` filter if the pipeline starts with one (lets the store narrow its scan).
    pub fn leading_match(&self) -> Option<&Document> {
        todo!("query-engine")
    }
}
