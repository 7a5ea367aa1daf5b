//! Aggregation stages over documents: `$match $project $addFields/$set $unset $group $sort $limit $skip $count`.
//! Also applied to change events after `$changeStream`.
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

mod add_fields;
pub mod expr;
mod group;
mod stage;

use crate::error::CmdResult;
use bson::Document;
use stage::Stage;

/// A parsed pipeline (without `$changeStream`).
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

impl Pipeline {
    /// Parses stages; an unsupported stage is an error naming it (40324).
    pub fn new(stages: &[Document]) -> CmdResult<Self> {
        Self::with_collation(stages, None)
    }

    /// A pipeline whose `$match` and `$sort` stages compare strings with `collation`
    /// (`$group` keys and expressions stay binary in the testbed).
    pub fn with_collation(
        stages: &[Document],
        collation: Option<&crate::collation::Collation>,
    ) -> CmdResult<Self> {
        let stages = stages
            .iter()
            .map(|s| Stage::parse(s, collation))
            .collect::<CmdResult<Vec<_>>>()?;
        Ok(Pipeline { stages })
    }

    /// Runs the whole pipeline over `input`.
    pub fn run(&self, input: Vec<Document>) -> CmdResult<Vec<Document>> {
        self.stages
            .iter()
            .try_fold(input, |docs, stage| stage.run(docs))
    }

    /// Runs per-document stages (`$match`, `$project`, `$addFields`, `$set`, `$unset`, `$replaceRoot`) on one
    /// document; `None` when filtered out. Used for change events; other stages are an error.
    pub fn run_one(&self, doc: Document) -> CmdResult<Option<Document>> {
        let mut cur = doc;
        for stage in &self.stages {
            match stage.run_one(cur)? {
                Some(next) => cur = next,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// The leading `$match` filter if the pipeline starts with one (lets the store narrow its scan).
    pub fn leading_match(&self) -> Option<&Document> {
        match self.stages.first() {
            Some(Stage::Match(_, filter)) => Some(filter),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
