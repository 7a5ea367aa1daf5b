//! Routes write ops to writers by hash(collection, document key), so one document's events
//! always go to the same writer, in stream order. Channels are bounded: a slow target blocks
//! the router, which blocks the change-stream reader (back-pressure, no unbounded buffering).

use crate::writer::{Item, WriterMsg};
use std::hash::{DefaultHasher, Hash, Hasher};
use tokio::sync::{mpsc, oneshot};

pub struct Router {
    writers: Vec<mpsc::Sender<WriterMsg>>,
}

/// The writer index of a key: stable for the life of the process.
pub fn partition(coll: &str, key: &bson::Document, partitions: usize) -> usize {
    let mut h = DefaultHasher::new();
    coll.hash(&mut h);
    // Canonical bytes of the key: equal keys hash equally whatever their Rust representation.
    match bson::to_vec(key) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(_) => format!("{key:?}").hash(&mut h),
    }
    (h.finish() % partitions as u64) as usize
}

impl Router {
    pub fn new(writers: Vec<mpsc::Sender<WriterMsg>>) -> Self {
        Router { writers }
    }

    /// Sends `item` to its writer; `false` when that writer has stopped (it failed).
    pub async fn route(&self, item: Item) -> bool {
        let i = partition(&item.op.coll, &item.op.key, self.writers.len());
        self.writers[i].send(WriterMsg::Op(item)).await.is_ok()
    }

    /// Waits until every writer has applied everything routed so far (DDL barrier).
    pub async fn drain(&self) -> bool {
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
