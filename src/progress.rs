//! Pipeline state shared by the watcher, the writers and the checkpointer: the watermark and
//! what lag and stall detection need. Locks are held for a few instructions, never across I/O.

use crate::watermark::Watermark;
use bson::{Document, Timestamp};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
pub struct Progress {
    watermark: Mutex<Watermark>,
    /// `wallTime` (ms) of the newest applied event.
    last_applied_wall_ms: AtomicI64,
    /// `wallTime` (ms) of the first event registered while nothing was pending.
    first_pending_wall_ms: AtomicI64,
    received: AtomicU64,
    applied: AtomicU64,
    last_cluster_time: Mutex<Option<Timestamp>>,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            watermark: Mutex::new(Watermark::new()),
            ..Default::default()
        })
    }

    /// Registers an event to apply; `wall_ms` is its source write time (for lag).
    pub fn register(&self, token: Document, wall_ms: Option<i64>) -> u64 {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut wm = self.watermark.lock();
        if wm.pending() == 0 {
            self.first_pending_wall_ms
                .store(wall_ms.unwrap_or(0), Ordering::Relaxed);
        }
        wm.register(token)
    }

    /// Seconds the oldest unapplied event has waited since it was written at the source
    /// (0 when nothing is pending): the newer of the last applied event and the first event
    /// that arrived after the pipeline was last idle.
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        if self.pending() == 0 {
            return 0.0;
        }
        let since = self
            .last_applied_wall_ms
            .load(Ordering::Relaxed)
            .max(self.first_pending_wall_ms.load(Ordering::Relaxed));
        if since == 0 {
            return 0.0;
        }
        ((now_ms - since).max(0) as f64) / 1000.0
    }

    pub fn register_applied(&self, token: Document) -> u64 {
        self.watermark.lock().register_applied(token)
    }

    /// Marks a batch applied.
    pub fn ack(
        &self,
        seqs: impl IntoIterator<Item = u64>,
        wall_ms: Option<i64>,
        cluster_time: Option<Timestamp>,
    ) {
        let mut n = 0;
        {
            let mut wm = self.watermark.lock();
            for s in seqs {
                wm.ack(s);
                n += 1;
            }
        }
        self.applied.fetch_add(n, Ordering::Relaxed);
        if let Some(w) = wall_ms {
            self.last_applied_wall_ms.fetch_max(w, Ordering::Relaxed);
        }
        if let Some(ct) = cluster_time {
            let mut last = self.last_cluster_time.lock();
            if last.is_none_or(|l| (l.time, l.increment) < (ct.time, ct.increment)) {
                *last = Some(ct);
            }
        }
    }

    /// `(token, seq, pending)` of the watermark.
    pub fn snapshot(&self) -> (Option<Document>, u64, usize) {
        let wm = self.watermark.lock();
        (wm.token().cloned(), wm.seq(), wm.pending())
    }

    pub fn seq(&self) -> u64 {
        self.watermark.lock().seq()
    }

    pub fn pending(&self) -> usize {
        self.watermark.lock().pending()
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub fn last_applied_wall_ms(&self) -> Option<i64> {
        match self.last_applied_wall_ms.load(Ordering::Relaxed) {
            0 => None,
            w => Some(w),
        }
    }

    pub fn last_cluster_time(&self) -> Option<Timestamp> {
        *self.last_cluster_time.lock()
    }
}
