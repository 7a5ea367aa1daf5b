//! Routes write ops to writers by hash(collection, document key), so one document's events
//! always go to the same writer, in stream order. Channels are bounded: a slow target blocks
//! the router, which blocks the change-stream reader (back-pressure, no unbounded buffering).
//! Items go to each writer in vectors of up to [`BATCH`] (one message and one wake-up per
//! event were ~15% of the replicator's CPU): the watcher flushes them whenever it would wait
//! (no event ready in the stream, a barrier, a pause or hold, a delay), and before waiting on
//! the byte gate, whose bytes only the writers give back.

use super::byte_gate::{ByteGate, Grant};
use crate::ops::Op;
use crate::source::translate::{ClusterTime, DocKey, WriteKind, WriteOp};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One event routed to a writer.
#[derive(Debug)]
pub struct Item {
    pub seq: u64,
    pub op: WriteOp,
    /// `events_applied_total{op}` label.
    pub op_label: Op,
    pub wall_ms: Option<i64>,
    pub cluster_time: Option<ClusterTime>,
    /// The event's `collectionUUID` (servers 6.0+ with expanded events): tells a document
    /// deleted in place from one that left with its collection.
    pub coll_uuid: Option<crate::source::translate::CollectionUuid>,
    /// The event's `fullDocumentBeforeChange` (history on, source pre-images enabled): the
    /// `before` of its history entry ([`crate::history::changes`]).
    pub pre_image: Option<bson::RawDocumentBuf>,
    /// The event's own change when `op` became a re-read (a replay, a fence's floor, a skipped
    /// document): the history records the change, not the re-read.
    pub event: Option<Box<WriteKind>>,
    /// The op's bytes in `apply.max_queued_bytes`, given back when the item is dropped (after
    /// its batch was applied); set by the router.
    pub grant: Option<Grant>,
}

impl Item {
    /// Applies this item by re-reading its document, keeping the event's change for the history.
    pub fn refetch(&mut self) {
        let kind = std::mem::replace(&mut self.op.kind, WriteKind::Fetch);
        self.event.get_or_insert(Box::new(kind));
    }
}

// The op variant is the hot one (one per event); boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum WriterMsg {
    Op(Item),
    /// [`WriterMsg::Op`] items in stream order (the router's [`BATCH`]es).
    Batch(Vec<Item>),
    /// Apply everything received so far, then answer (DDL barriers, shutdown).
    Flush(oneshot::Sender<()>),
    /// A resync job's item: after everything received so far, write the source's current
    /// version of one document (see [`super::rewrite`]).
    Rewrite(super::rewrite::Rewrite),
}

/// Items the router gathers for one writer before it sends them as one message.
pub const BATCH: usize = 64;

/// The capacity of a writer's channel, in messages, for `apply.batch_size`: about twice a
/// batch of items queued ahead of each writer, as when every message was one item.
pub fn channel_capacity(batch_size: usize) -> usize {
    (batch_size.max(64) * 2).div_ceil(BATCH).max(4)
}

/// Sends each write op to the writer of its partition.
pub struct Router {
    writers: Vec<mpsc::Sender<WriterMsg>>,
    /// Bytes in flight to the writers (`apply.max_queued_bytes`), when bounded.
    gate: Option<Arc<ByteGate>>,
    /// Per writer, the items routed and not sent yet (locked for a push or a take, never
    /// across an await).
    pending: parking_lot::Mutex<Vec<Vec<Item>>>,
}

/// The writer index of a key: stable for the life of the process.
pub fn partition(coll: &str, key: &bson::Document, partitions: usize) -> usize {
    partition_of(coll, &DocKey::of(key), partitions)
}

/// [`partition`] of a key already encoded.
pub fn partition_of(coll: &str, key: &DocKey, partitions: usize) -> usize {
    let mut h = DefaultHasher::new();
    coll.hash(&mut h);
    key.hash(&mut h);
    (h.finish() % partitions as u64) as usize
}

impl Router {
    pub fn new(writers: Vec<mpsc::Sender<WriterMsg>>) -> Self {
        let pending = writers.iter().map(|_| Vec::new()).collect();
        Router {
            writers,
            gate: None,
            pending: parking_lot::Mutex::new(pending),
        }
    }

    /// Bounds the bytes in flight by `gate` as well as the event count by the channels.
    pub fn with_byte_gate(mut self, gate: Arc<ByteGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Queues `item` for its writer, once its bytes fit the byte gate, and sends that writer's
    /// [`BATCH`] when it is full; `false` when a writer has stopped (it failed).
    pub async fn route(&self, mut item: Item) -> bool {
        if let Some(gate) = &self.gate {
            let size = crate::apply::batch::op_size(&item.op);
            let grant = match gate.try_acquire(size) {
                Some(grant) => grant,
                // Queued items hold bytes only their writers give back: hand them on first.
                None if self.flush().await => gate.acquire(size).await,
                None => return false,
            };
            item.grant = Some(grant);
        }
        let i = partition_of(&item.op.coll, &item.op.key, self.writers.len());
        let full = {
            let mut pending = self.pending.lock();
            let queued = &mut pending[i];
            queued.push(item);
            (queued.len() >= BATCH).then(|| std::mem::replace(queued, Vec::with_capacity(BATCH)))
        };
        match full {
            Some(batch) => self.send(i, batch).await,
            None => true,
        }
    }

    /// Sends every writer what is queued for it; `false` when a writer has stopped.
    pub async fn flush(&self) -> bool {
        for i in 0..self.writers.len() {
            let batch = std::mem::take(&mut self.pending.lock()[i]);
            if !batch.is_empty() && !self.send(i, batch).await {
                return false;
            }
        }
        true
    }

    async fn send(&self, i: usize, mut batch: Vec<Item>) -> bool {
        let msg = match batch.len() {
            1 => WriterMsg::Op(batch.pop().expect("one item")),
            _ => WriterMsg::Batch(batch),
        };
        self.writers[i].send(msg).await.is_ok()
    }

    /// Waits until every writer has applied everything routed so far (DDL barrier).
    pub async fn drain(&self) -> bool {
        if !self.flush().await {
            return false;
        }
        let mut waits = Vec::with_capacity(self.writers.len());
        for w in &self.writers {
            let (tx, rx) = oneshot::channel();
            if w.send(WriterMsg::Flush(tx)).await.is_err() {
                return false;
            }
            waits.push(rx);
        }
        for rx in waits {
            if rx.await.is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod batch_tests;

#[cfg(test)]
mod tests {
    use super::partition;
    use bson::doc;

    #[test]
    fn deterministic_and_in_range_for_1_to_16_partitions() {
        for n in 1..=16 {
            for id in 0..200 {
                let key = doc! {"_id": id};
                let p = partition("c", &key, n);
                assert!(p < n, "{p} out of range for {n}");
                assert_eq!(p, partition("c", &key, n));
            }
        }
    }

    #[test]
    fn equal_keys_map_to_the_same_writer() {
        // Equal by canonical key bytes, built separately.
        let a = doc! {"_id": {"x": 1, "y": "s"}, "region": "eu"};
        let b: bson::Document = bson::from_slice(&bson::to_vec(&a).unwrap()).unwrap();
        for n in 1..=16 {
            assert_eq!(partition("c", &a, n), partition("c", &b, n));
        }
    }

    #[test]
    fn keys_spread_over_partitions_and_the_collection_name_matters() {
        let n = 8;
        let spread: std::collections::HashSet<usize> = (0..200)
            .map(|id| partition("c", &doc! {"_id": id}, n))
            .collect();
        assert_eq!(spread.len(), n, "200 keys reach every one of {n} writers");
        let moved = (0..200)
            .filter(|id| {
                let key = doc! {"_id": *id};
                partition("a", &key, n) != partition("b", &key, n)
            })
            .count();
        assert!(
            moved > 100,
            "only {moved} of 200 keys depend on the collection"
        );
    }
}
