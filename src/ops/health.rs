//! The health signals that depend on the checkpoint: lag (0 when caught up), checkpoint age, and
//! stall (events pending, watermark not moving). The clock is passed in, so the rules are tested
//! without waiting.

use crate::ops::Reporter;
use crate::state::Position;
use std::time::{Duration, Instant};

/// How long the watermark may stand still while events are pending before `/readyz` fails.
pub const STALL_AFTER: Duration = Duration::from_secs(30);

/// Stalled: events are pending and the watermark has not moved for [`STALL_AFTER`].
#[derive(Debug)]
pub(crate) struct StallWatch {
    seq: u64,
    since: Instant,
}

impl StallWatch {
    pub(crate) fn new(now: Instant) -> Self {
        StallWatch { seq: 0, since: now }
    }

    /// Whether the pipeline is stalled at `now`, given the watermark `seq` and `pending` events.
    pub(crate) fn update(&mut self, seq: u64, pending: usize, now: Instant) -> bool {
        if seq != self.seq || pending == 0 {
            self.seq = seq;
            self.since = now;
            return false;
        }
        now.saturating_duration_since(self.since) >= STALL_AFTER
    }
}

/// One health refresh at `now`: the last checkpoint was saved at `saved_at`.
pub(crate) fn refresh(
    reporter: &Reporter,
    position: &Position,
    saved_at: Instant,
    watch: &mut StallWatch,
    now: Instant,
) {
    let (_, seq, pending) = position.snapshot();
    let age = now.saturating_duration_since(saved_at).as_secs_f64();
    let lag = position.lag_seconds(bson::DateTime::now().timestamp_millis());
    // A paused watermark is what the operator asked for, not a stall (the clock restarts).
    let pending = if reporter.status.pauses().any() || reporter.status.holds().any() {
        0
    } else {
        pending
    };
    reporter.health(lag, age, watch.update(seq, pending, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn stalled_only_after_the_watermark_stood_still_with_events_pending() {
        let t0 = Instant::now();
        let mut w = StallWatch::new(t0);
        assert!(
            !w.update(5, 3, t0),
            "the seq moved (0 -> 5): the clock restarts"
        );
        assert!(!w.update(5, 3, t0 + STALL_AFTER - SECOND), "not yet");
        assert!(
            w.update(5, 3, t0 + STALL_AFTER),
            "pending and still for STALL_AFTER"
        );
        assert!(w.update(5, 3, t0 + 2 * STALL_AFTER), "stays stalled");
    }

    #[test]
    fn a_moving_watermark_resets_the_watch() {
        let t0 = Instant::now();
        let mut w = StallWatch::new(t0);
        w.update(1, 2, t0);
        assert!(!w.update(2, 2, t0 + STALL_AFTER), "moved at the deadline");
        assert!(
            !w.update(2, 2, t0 + 2 * STALL_AFTER - SECOND),
            "counted from the move"
        );
        assert!(w.update(2, 2, t0 + 2 * STALL_AFTER));
        assert!(
            !w.update(3, 2, t0 + 3 * STALL_AFTER),
            "moving again ends the stall"
        );
    }

    #[test]
    fn nothing_pending_is_never_a_stall_and_resets_the_watch() {
        let t0 = Instant::now();
        let mut w = StallWatch::new(t0);
        assert!(!w.update(0, 0, t0 + 10 * STALL_AFTER), "idle, not stalled");
        assert!(
            !w.update(0, 1, t0 + 10 * STALL_AFTER),
            "an event arrives: clock starts"
        );
        assert!(!w.update(0, 1, t0 + 11 * STALL_AFTER - SECOND));
        assert!(w.update(0, 1, t0 + 11 * STALL_AFTER));
        assert!(!w.update(0, 0, t0 + 12 * STALL_AFTER), "drained");
        assert!(
            !w.update(0, 1, t0 + 12 * STALL_AFTER + SECOND),
            "a new event after draining starts a new clock"
        );
    }
}
