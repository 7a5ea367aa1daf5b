//! Pipeline state shared by the watcher, the writers and the checkpointer: the watermark and
//! what lag and stall detection need. Locks are held for a few instructions, never across I/O.

use crate::source::translate::ClusterTime;
use crate::state::watermark::Watermark;
use bson::{Document, RawDocumentBuf};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// A resume token as [`Position`] keeps it: the stream's raw bytes, or a document (tests,
/// tokens of `postBatchResumeToken`), encoded once.
pub struct Token(RawDocumentBuf);

impl From<RawDocumentBuf> for Token {
    fn from(t: RawDocumentBuf) -> Self {
        Token(t)
    }
}

impl From<Document> for Token {
    fn from(t: Document) -> Self {
        // Only a document no server can send (a field name with a NUL byte) fails to encode.
        Token(RawDocumentBuf::from_document(&t).unwrap_or_default())
    }
}

#[derive(Default)]
pub struct Position {
    /// Tokens as the server sent them: decoded only by [`Position::snapshot`] (a checkpoint),
    /// not once per event.
    watermark: Mutex<Watermark<RawDocumentBuf>>,
    /// `wallTime` (ms) of the newest applied event.
    last_applied_wall_ms: AtomicI64,
    /// The last read of the change stream returned no event (the source has nothing newer).
    stream_idle: AtomicBool,
    /// `wallTime` (ms) of the first event registered while nothing was pending.
    first_pending_wall_ms: AtomicI64,
    received: AtomicU64,
    applied: AtomicU64,
    last_cluster_time: Mutex<Option<ClusterTime>>,
    /// The newest registered event's cluster time and seq, and the highest seq registered:
    /// the continuous verifier waits on them for "applied past a source time".
    newest_registered: Mutex<Option<(ClusterTime, u64)>>,
    last_registered_seq: AtomicU64,
    /// Reads of the change stream that came back empty, counted.
    idle_reads: AtomicU64,
    /// `apply.delay_seconds` in ms: lag counts only beyond it ([`crate::tail::delay`]).
    delay_ms: AtomicI64,
}

impl Position {
    pub fn new() -> Arc<Position> {
        Arc::new(Position {
            watermark: Mutex::new(Watermark::new()),
            ..Default::default()
        })
    }

    /// The configured apply delay, which [`Position::lag_seconds`] leaves out.
    pub fn set_apply_delay(&self, delay: std::time::Duration) {
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// Registers an event to apply; `wall_ms` is its source write time (for lag).
    pub fn register(&self, token: impl Into<Token>, wall_ms: Option<i64>) -> u64 {
        let token = token.into().0;
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut wm = self.watermark.lock();
        if wm.pending() == 0 {
            self.first_pending_wall_ms
                .store(wall_ms.unwrap_or(0), Ordering::Relaxed);
        }
        let seq = wm.register(token);
        self.last_registered_seq.fetch_max(seq, Ordering::Relaxed);
        seq
    }

    /// How far the target is behind the source, in seconds: the time since the source wrote
    /// the newer of the last applied event and the first event that arrived after the pipeline
    /// was last idle. 0 only when caught up: nothing pending and the stream had nothing more to
    /// give (a backlog still unread in the source counts, not just received events). With an
    /// apply delay, only the time beyond the delay counts (0 while within it).
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        if self.pending() == 0 && self.stream_idle.load(Ordering::Relaxed) {
            return 0.0;
        }
        let since = self
            .last_applied_wall_ms
            .load(Ordering::Relaxed)
            .max(self.first_pending_wall_ms.load(Ordering::Relaxed));
        if since == 0 {
            return 0.0;
        }
        let delay = self.delay_ms.load(Ordering::Relaxed);
        ((now_ms - since - delay).max(0) as f64) / 1000.0
    }

    /// An event was read but is not handed on yet (replication paused): lag counts from its
    /// source write time, as it would once registered, and the stream is not idle.
    pub fn hold_lag_from(&self, wall_ms: Option<i64>) {
        self.stream_idle.store(false, Ordering::Relaxed);
        if let (Some(w), 0) = (wall_ms, self.pending()) {
            self.first_pending_wall_ms.store(w, Ordering::Relaxed);
        }
    }

    /// Whether the last change-stream read came back empty.
    pub fn set_stream_idle(&self, idle: bool) {
        self.stream_idle.store(idle, Ordering::Relaxed);
        if idle {
            self.idle_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The event registered as `seq` has cluster time `ct` (events come in cluster-time order).
    pub fn note_cluster_time(&self, seq: u64, ct: Option<ClusterTime>) {
        if let Some(ct) = ct {
            *self.newest_registered.lock() = Some((ct, seq));
        }
    }

    /// The newest registered event's cluster time and seq.
    pub fn newest_registered(&self) -> Option<(ClusterTime, u64)> {
        *self.newest_registered.lock()
    }

    /// The highest seq registered so far (0: none).
    pub fn last_registered_seq(&self) -> u64 {
        self.last_registered_seq.load(Ordering::Relaxed)
    }

    /// Empty change-stream reads so far.
    pub fn idle_reads(&self) -> u64 {
        self.idle_reads.load(Ordering::Relaxed)
    }

    pub fn register_applied(&self, token: impl Into<Token>) -> u64 {
        let token = token.into().0;
        let seq = self.watermark.lock().register_applied(token);
        self.last_registered_seq.fetch_max(seq, Ordering::Relaxed);
        seq
    }

    /// Marks a batch applied.
    pub fn ack(
        &self,
        seqs: impl IntoIterator<Item = u64>,
        wall_ms: Option<i64>,
        cluster_time: Option<ClusterTime>,
    ) {
        let n = self.watermark.lock().ack_all(seqs);
        self.applied.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(w) = wall_ms {
            self.last_applied_wall_ms.fetch_max(w, Ordering::Relaxed);
        }
        if let Some(ct) = cluster_time {
            let mut last = self.last_cluster_time.lock();
            if last.is_none_or(|l| l < ct) {
                *last = Some(ct);
            }
        }
    }

    /// `(token, seq, pending)` of the watermark.
    pub fn snapshot(&self) -> (Option<Document>, u64, usize) {
        let wm = self.watermark.lock();
        let token = wm.token().and_then(|t| Document::try_from(t.as_ref()).ok());
        (token, wm.seq(), wm.pending())
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

    pub fn last_cluster_time(&self) -> Option<ClusterTime> {
        *self.last_cluster_time.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn lag_is_zero_only_when_caught_up_and_the_stream_is_idle() {
        let p = Position::new();
        assert_eq!(p.lag_seconds(10_000), 0.0, "nothing seen yet");
        let seq = p.register(doc! {"_data": "1"}, Some(4_000));
        assert_eq!(
            p.lag_seconds(10_000),
            6.0,
            "the pending event waits since its source write"
        );
        p.ack([seq], Some(4_000), None);
        assert_eq!(
            p.lag_seconds(10_000),
            6.0,
            "applied, but the stream may hold more: still behind"
        );
        p.set_stream_idle(true);
        assert_eq!(p.lag_seconds(10_000), 0.0, "caught up");
        p.set_stream_idle(false);
        p.register(doc! {"_data": "2"}, Some(9_000));
        assert_eq!(
            p.lag_seconds(10_000),
            1.0,
            "a new event after idling counts from its own write"
        );
    }
}
