//! Per-writer batching with exact per-key coalescing, and the bulk commands a batch becomes.
//! Pure: no I/O.
// OWNER: core-logic helper.

use crate::translate::WriteOp;
use bson::Document;
use std::collections::BTreeMap;

/// Bulk statements for one collection. Per key, what remains after coalescing is either deletes
/// only or updates only, so the two commands may run in either order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionPlan {
    /// `update` command statements (`{q, u, upsert, multi: false}`), in stream order per key (ordered: true).
    pub updates: Vec<Document>,
    /// `delete` command statements (`{q, limit: 1}`).
    pub deletes: Vec<Document>,
    /// Keys whose current version must be read from the source first (`WriteKind::Fetch`); the writer
    /// turns each into an upsert (found) or a delete (gone) placed before this key's later updates.
    pub fetches: Vec<Document>,
}

/// A batch ready to send: one plan per collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchPlan {
    pub collections: BTreeMap<String, CollectionPlan>,
    /// Number of ops pushed (before coalescing), for metrics.
    pub ops_in: usize,
    /// Number of statements after coalescing.
    pub statements_out: usize,
}

/// Accumulates ops in stream order and coalesces where exact: a later upsert, delete or fetch of a
/// key supersedes every earlier op on that key; deltas after a delete are dropped (upsert=false
/// on a missing document is a no-op).
#[derive(Debug, Default)]
pub struct BatchBuilder {
    _ops: Vec<WriteOp>,
}

impl BatchBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, op: WriteOp) {
        let _ = op;
        todo!("core-logic")
    }

    /// Ops pushed so far.
    pub fn len(&self) -> usize {
        todo!("core-logic")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes of the documents held, for the byte bound.
    pub fn bytes(&self) -> usize {
        todo!("core-logic")
    }

    /// The bulk statements, and resets the builder.
    pub fn take_plan(&mut self) -> BatchPlan {
        todo!("core-logic")
    }
}
