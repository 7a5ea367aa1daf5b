//! Server-wide cursor registry. `getMore` checks a cursor out (removes it), works on it, and
//! checks it back in, so no lock is held across an `.await` (a change-stream `getMore` may wait
//! for events for up to `maxAwaitTimeMS`).

use crate::changestream::ChangeStream;
use bson::Document;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};

/// Soft cap on the documents of one batch: replies stay under `maxBsonObjectSize` (16 MiB)
/// with room for the envelope.
pub(crate) const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024 - 16 * 1024;
/// `find`/`aggregate` first batch when the client gives no `batchSize`.
pub(crate) const DEFAULT_FIRST_BATCH: usize = 101;

/// What a cursor reads from.
pub(crate) enum Source {
    /// Results computed when the cursor was opened (`find`, `aggregate`, `listCollections`...).
    Docs(VecDeque<Document>),
    ChangeStream(Box<ChangeStream>),
}

pub(crate) struct Cursor {
    /// `db.coll` as reported in replies.
    pub ns: String,
    pub source: Source,
}

#[derive(Default)]
pub(crate) struct Registry {
    next_id: AtomicI64,
    open: Mutex<HashMap<i64, Cursor>>,
    /// Ids killed while checked out: they are not checked back in.
    killed: Mutex<HashSet<i64>>,
}

impl Registry {
    /// Registers a cursor and returns its id (never 0).
    pub(crate) fn insert(&self, cursor: Cursor) -> i64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.open.lock().insert(id, cursor);
        id
    }

    pub(crate) fn check_out(&self, id: i64) -> Option<Cursor> {
        self.open.lock().remove(&id)
    }

    pub(crate) fn check_in(&self, id: i64, cursor: Cursor) {
        if !self.killed.lock().remove(&id) {
            self.open.lock().insert(id, cursor);
        }
    }

    /// Kills a cursor; true when it existed (open or checked out).
    pub(crate) fn kill(&self, id: i64) -> bool {
        if self.open.lock().remove(&id).is_some() {
            return true;
        }
        if id > 0 && id <= self.next_id.load(Ordering::Relaxed) {
            // Possibly checked out by a running getMore: make sure it does not come back.
            self.killed.lock().insert(id);
        }
        false
    }
}

/// Takes the next batch from `docs`: at most `max` documents (0 = no count limit) and at most
/// [`MAX_BATCH_BYTES`], but always at least one document when any is left.
pub(crate) fn take_batch(docs: &mut VecDeque<Document>, max: usize) -> Vec<Document> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(d) = docs.front() {
        if max != 0 && out.len() >= max {
            break;
        }
        let size = bson_size(d);
        if !out.is_empty() && bytes + size > MAX_BATCH_BYTES {
            break;
        }
        bytes += size;
        out.push(docs.pop_front().expect("front exists"));
    }
    out
}

/// Encoded size of a document.
pub(crate) fn bson_size(d: &Document) -> usize {
    let mut counter = ByteCounter(0);
    let _ = d.to_writer(&mut counter);
    counter.0
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn batches_respect_count_and_bytes() {
        let mut docs: VecDeque<Document> = (0..10).map(|i| doc! {"_id": i}).collect();
        assert_eq!(take_batch(&mut docs, 3).len(), 3);
        assert_eq!(take_batch(&mut docs, 0).len(), 7);
        assert!(take_batch(&mut docs, 0).is_empty());
        let big = "x".repeat(6 * 1024 * 1024);
        let mut docs: VecDeque<Document> = (0..4).map(|i| doc! {"_id": i, "s": &big}).collect();
        assert_eq!(
            take_batch(&mut docs, 0).len(),
            2,
            "two 6 MiB docs fit in 16 MiB, three do not"
        );
    }

    #[test]
    fn killed_while_checked_out_stays_dead() {
        let reg = Registry::default();
        let id = reg.insert(Cursor {
            ns: "d.c".into(),
            source: Source::Docs(VecDeque::new()),
        });
        let c = reg.check_out(id).unwrap();
        assert!(!reg.kill(id));
        reg.check_in(id, c);
        assert!(reg.check_out(id).is_none());
        let id2 = reg.insert(Cursor {
            ns: "d.c".into(),
            source: Source::Docs(VecDeque::new()),
        });
        assert_ne!(id, id2);
        assert!(reg.kill(id2));
        assert!(reg.check_out(id2).is_none());
    }
}
