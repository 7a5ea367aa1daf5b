//! The writers' hook for "recent changes": after a batch is acknowledged, a sample of its keys
//! (`verify.continuous.sample_ratio`) is queued here, bounded and lossy (a full queue drops the
//! key: the sweeps still cover it). The verifier takes keys once they settled for
//! [`SETTLE`] and checks them like sweep candidates. Off (ratio 0) until the verifier starts.

use crate::source::translate::DocKey;
use bson::Bson;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Keys queued at most.
pub const MAX_QUEUED: usize = 4096;
/// How long an applied key waits before it is checked (later events of it come first).
pub const SETTLE: Duration = Duration::from_secs(2);
/// `sample_ratio` as parts of this many (ratio 1.0 takes every key).
const PARTS: u64 = 1_000_000;

#[derive(Debug, Default)]
pub struct Recent {
    /// Keys per [`PARTS`] taken (0: off).
    parts: AtomicU64,
    seen: AtomicU64,
    queue: Mutex<VecDeque<(Instant, String, Bson)>>,
}

impl Recent {
    /// Turns the hook on with `ratio` (0 to 1) of the applied keys.
    pub fn set_ratio(&self, ratio: f64) {
        let parts = (ratio.clamp(0.0, 1.0) * PARTS as f64).round() as u64;
        self.parts.store(parts, Ordering::Relaxed);
    }

    /// A batch was acknowledged: queues its sampled keys (spread evenly by a counter).
    pub fn applied<'a>(&self, keys: impl Iterator<Item = (&'a str, &'a DocKey)>) {
        let parts = self.parts.load(Ordering::Relaxed);
        if parts == 0 {
            return;
        }
        let now = Instant::now();
        let mut queue = self.queue.lock();
        for (coll, key) in keys {
            let n = self.seen.fetch_add(1, Ordering::Relaxed);
            let taken = (n * parts) / PARTS != ((n + 1) * parts) / PARTS;
            if !taken || queue.len() >= MAX_QUEUED {
                continue;
            }
            if let Some(id) = key.id() {
                queue.push_back((now, coll.to_string(), id));
            }
        }
    }

    /// Keys applied at least [`SETTLE`] before `now`, at most `max`, oldest first.
    pub fn settled(&self, now: Instant, max: usize) -> Vec<(String, Bson)> {
        let mut queue = self.queue.lock();
        let mut out = Vec::new();
        while out.len() < max {
            match queue.front() {
                Some((at, _, _)) if now.duration_since(*at) >= SETTLE => {
                    let (_, coll, id) = queue.pop_front().expect("front");
                    out.push((coll, id));
                }
                _ => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn samples_the_ratio_bounded_and_only_once_settled() {
        let r = Recent::default();
        let keys: Vec<DocKey> = (0..100).map(|i| DocKey::of(&doc! {"_id": i})).collect();
        r.applied(keys.iter().map(|k| ("c", k)));
        assert!(
            r.settled(Instant::now() + SETTLE, 1000).is_empty(),
            "off until a ratio is set"
        );
        r.set_ratio(0.25);
        r.applied(keys.iter().map(|k| ("c", k)));
        assert!(
            r.settled(Instant::now(), 1000).is_empty(),
            "not settled yet"
        );
        let later = Instant::now() + SETTLE;
        assert_eq!(r.settled(later, 1000).len(), 25);
        r.set_ratio(1.0);
        let many: Vec<DocKey> = (0..MAX_QUEUED as i32 + 10)
            .map(|i| DocKey::of(&doc! {"_id": i}))
            .collect();
        r.applied(many.iter().map(|k| ("c", k)));
        assert_eq!(
            r.settled(later + SETTLE, usize::MAX).len(),
            MAX_QUEUED,
            "bounded"
        );
    }
}
