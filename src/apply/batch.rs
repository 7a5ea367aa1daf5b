//! Per-writer batching with exact per-key coalescing, and the bulk commands a batch becomes.
//! Pure: no I/O. Ops move in and statements are built once, as raw BSON, from the bytes the
//! events carried; sizes are raw lengths.

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;

/// The tests build expected statements from documents.
#[cfg(test)]
use super::statements::raw;
use super::statements::{delete_statement, delta_statements, upsert_statement};

use crate::source::translate::{DocKey, WriteKind, WriteOp};
use bson::{Document, RawDocumentBuf};
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Bulk statements for one collection. Per key, what survives coalescing is one of `[delete]`,
/// `[fetch]`, `[upsert, delta...]`, `[delta...]`; the order they are sent in is
/// [`super::plan::order`]'s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionPlan {
    /// `update` command statements (`{q, u, upsert, multi: false}`), in stream order per key (ordered: true).
    pub updates: Vec<RawDocumentBuf>,
    /// `delete` command statements (`{q, limit: 1}`).
    pub deletes: Vec<RawDocumentBuf>,
    /// Keys whose current version is read from the source (`WriteKind::Fetch`): found -> an
    /// upsert, gone -> nothing (see [`super::plan`]).
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
/// on a missing document is a no-op), and so are deltas after a fetch (the fetch reads the
/// source after they happened).
#[derive(Debug, Default)]
pub struct BatchBuilder {
    /// Ops in stream order; superseded ones become `None`.
    ops: Vec<Option<Pending>>,
    /// Per collection (a batch holds a few), the newest live op's index per canonical key
    /// bytes; older live ops of the key chain back from it ([`Pending::prev`]): no list per
    /// key to allocate.
    live: Vec<(String, HashMap<DocKey, usize>)>,
    pushed: usize,
    bytes: usize,
    /// Bytes of each op in `ops`, to subtract when it is superseded.
    op_bytes: Vec<usize>,
}

/// What a statement is built from: the key's bytes (its `q`) and the change.
#[derive(Debug)]
struct Pending {
    /// Index in [`BatchBuilder::live`].
    coll: usize,
    key: DocKey,
    kind: WriteKind,
    /// The key's previous live op (deltas pile up behind an upsert or each other).
    prev: Option<usize>,
}

impl BatchBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, op: WriteOp) {
        self.push_ref(&op);
    }

    /// [`Self::push`] of an op the caller keeps: only shared bytes are cloned (its key and
    /// change).
    pub fn push_ref(&mut self, op: &WriteOp) {
        let key = &op.key;
        self.pushed += 1;
        let coll = match self.live.iter().position(|(c, _)| *c == op.coll) {
            Some(c) => c,
            None => {
                self.live.push((op.coll.clone(), HashMap::new()));
                self.live.len() - 1
            }
        };
        let index = self.ops.len();
        // A key clone is a reference count.
        let newest = match self.live[coll].1.entry(key.clone()) {
            Entry::Occupied(mut slot) => {
                let newest = *slot.get();
                // After a delete the delta is a no-op (upsert=false); after a fetch it is
                // already in the fetched document, read after every event of this batch arrived.
                let absorbed = matches!(op.kind, WriteKind::Delta { .. })
                    && self.ops[newest]
                        .as_ref()
                        .is_some_and(|p| matches!(p.kind, WriteKind::Delete | WriteKind::Fetch));
                if absorbed {
                    return;
                }
                slot.insert(index);
                Some(newest)
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
                None
            }
        };
        let prev = if matches!(op.kind, WriteKind::Delta { .. }) {
            newest
        } else {
            let mut superseded = newest;
            while let Some(i) = superseded {
                superseded = self.ops[i].take().and_then(|p| p.prev);
                self.bytes -= self.op_bytes[i];
            }
            None
        };
        let size = key.as_bytes().len() + body_size(&op.kind);
        self.ops.push(Some(Pending {
            coll,
            key: key.clone(),
            kind: op.kind.clone(),
            prev,
        }));
        self.op_bytes.push(size);
        self.bytes += size;
    }

    /// Ops pushed so far.
    pub fn len(&self) -> usize {
        self.pushed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes of the documents held, for the byte bound.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bulk statements, and resets the builder.
    pub fn take_plan(&mut self) -> BatchPlan {
        self.take(false).0
    }

    /// [`Self::take_plan`], and the keys the batch writes per collection (what a writer with
    /// more than one batch in flight checks the next batch against).
    pub fn take_plan_keyed(&mut self) -> (BatchPlan, Vec<(String, HashSet<DocKey>)>) {
        self.take(true)
    }

    /// The plan, and the key sets when `keyed` (empty otherwise: building them costs a hash
    /// per key).
    fn take(&mut self, keyed: bool) -> (BatchPlan, Vec<(String, HashSet<DocKey>)>) {
        let taken = std::mem::take(self);
        let mut plan = BatchPlan {
            ops_in: taken.pushed,
            ..BatchPlan::default()
        };
        let mut colls: Vec<CollectionPlan> = Vec::new();
        colls.resize_with(taken.live.len(), CollectionPlan::default);
        for op in taken.ops.into_iter().flatten() {
            let coll = &mut colls[op.coll];
            // The canonical key bytes are the key's raw document (see `DocKey`); a key that
            // does not encode is the empty document, as `raw` makes it.
            let q = match op.key.as_raw() {
                Some(q) => Cow::Borrowed(q),
                None => Cow::Owned(RawDocumentBuf::new()),
            };
            match op.kind {
                WriteKind::Upsert(doc) => coll.updates.push(upsert_statement(&q, &doc)),
                WriteKind::Delete => coll.deletes.push(delete_statement(&q)),
                WriteKind::Fetch => coll.fetches.push(op.key.to_document()),
                WriteKind::Delta {
                    set,
                    unset,
                    truncate,
                } => coll
                    .updates
                    .extend(delta_statements(&q, &set, &unset, &truncate)),
            }
        }
        let mut keys = Vec::new();
        for ((name, live), coll) in taken.live.into_iter().zip(colls) {
            if keyed {
                keys.push((name.clone(), live.into_keys().collect()));
            }
            plan.collections.insert(name, coll);
        }
        plan.statements_out = plan
            .collections
            .values()
            .map(|c| c.updates.len() + c.deletes.len() + c.fetches.len())
            .sum();
        (plan, keys)
    }
}

/// Approximate encoded size: the key plus the document or delta carried (the batch and queue
/// byte bounds).
pub fn op_size(op: &WriteOp) -> usize {
    op.key.as_bytes().len() + body_size(&op.kind)
}

/// Bytes of the document or delta an op carries: raw lengths, nothing encoded; a body that
/// views its event counts the event ([`crate::source::translate::Body::held_bytes`]).
pub fn body_size(kind: &WriteKind) -> usize {
    match kind {
        WriteKind::Upsert(d) => d.held_bytes(),
        WriteKind::Delta {
            set,
            unset,
            truncate,
        } => {
            set.held_bytes()
                + unset.iter().map(|p| p.len() + 8).sum::<usize>()
                + truncate.iter().map(|(p, _)| p.len() + 16).sum::<usize>()
        }
        WriteKind::Delete | WriteKind::Fetch => 0,
    }
}
