//! Collection drops held back while they may still turn out to be part of a `dropDatabase`.
//!
//! A server announces `dropDatabase` as one `drop` event per collection, then the
//! `dropDatabase` event. With `apply.ddl.drop = true` and `drop_database = false` the backup
//! must keep its collections through a database drop, yet still follow single collection
//! drops. So consecutive drops are held: the `dropDatabase` that follows them discards them,
//! any other event (or a quiet stream) releases them to be applied, in order. Held drops stay
//! pending in the watermark, so a checkpoint never passes them. Pure: no I/O.

use crate::source::translate::DdlOp;
use std::time::{Duration, Instant};

/// How long a quiet stream waits for the `dropDatabase` event after the last held drop. The
/// server writes it right after the collection drops; this only bounds how long an ordinary
/// drop waits when nothing else happens.
pub const RELEASE_AFTER: Duration = Duration::from_secs(2);

/// One held drop and its sequence number in the watermark.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDrop {
    pub op: DdlOp,
    pub seq: u64,
}

#[derive(Debug, Default)]
pub struct DropHold {
    held: Vec<HeldDrop>,
    last_held_at: Option<Instant>,
}

/// What the next event means for the held drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Another drop: keep holding.
    Hold,
    /// The database drop they belong to: do not apply them.
    Discard,
    /// Anything else: apply them now, before this event.
    Release,
}

impl DropHold {
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    pub fn hold(&mut self, op: DdlOp, seq: u64, now: Instant) {
        self.held.push(HeldDrop { op, seq });
        self.last_held_at = Some(now);
    }

    /// The verdict for the event that follows, by its `operationType` (and whether a
    /// `dropDatabase` is of the replicated database).
    pub fn verdict(op_type: &str, drops_this_database: bool) -> Verdict {
        match op_type {
            "drop" => Verdict::Hold,
            "dropDatabase" if drops_this_database => Verdict::Discard,
            _ => Verdict::Release,
        }
    }

    /// True when every held drop's collection satisfies `pred`.
    pub fn all_collections(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.held.iter().all(|h| match &h.op {
            DdlOp::Drop { coll } => pred(coll),
            _ => false,
        })
    }

    /// True when the stream has been quiet long enough after the last held drop.
    pub fn expired(&self, now: Instant) -> bool {
        self.last_held_at
            .is_some_and(|t| now.saturating_duration_since(t) >= RELEASE_AFTER)
    }

    /// Empties the hold, oldest first.
    pub fn take(&mut self) -> Vec<HeldDrop> {
        self.last_held_at = None;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_of(c: &str) -> DdlOp {
        DdlOp::Drop { coll: c.into() }
    }

    #[test]
    fn verdicts_follow_the_server_order_of_a_database_drop() {
        assert_eq!(DropHold::verdict("drop", true), Verdict::Hold);
        assert_eq!(DropHold::verdict("dropDatabase", true), Verdict::Discard);
        assert_eq!(DropHold::verdict("dropDatabase", false), Verdict::Release);
        for other in ["insert", "update", "rename", "create", "invalidate"] {
            assert_eq!(DropHold::verdict(other, true), Verdict::Release, "{other}");
        }
    }

    #[test]
    fn take_returns_drops_in_order_and_resets_the_clock() {
        let t0 = Instant::now();
        let mut h = DropHold::default();
        assert!(
            !h.expired(t0 + RELEASE_AFTER * 10),
            "nothing held, nothing expires"
        );
        h.hold(drop_of("a"), 1, t0);
        h.hold(drop_of("b"), 2, t0 + Duration::from_secs(1));
        assert!(
            !h.expired(t0 + RELEASE_AFTER),
            "the clock runs from the last drop"
        );
        assert!(h.expired(t0 + Duration::from_secs(1) + RELEASE_AFTER));
        let taken = h.take();
        assert_eq!(taken.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(taken[0].op, drop_of("a"));
        assert!(h.is_empty() && !h.expired(t0 + RELEASE_AFTER * 10));
    }
}
