//! The checkpoint low watermark: the resume token of the highest sequence number below which
//! every event is applied. Pure: no I/O. It never passes an unapplied event and never moves back.

use bson::Document;
use std::collections::VecDeque;

/// Sequence numbers are contiguous (`register*` hands out `next`, `next + 1`, ...). The positions
/// not yet covered sit in a deque of entries sorted by first seq: `ack` is a binary search
/// (O(log n)) and advancing is amortized O(1) per entry.
///
/// Consecutive applied positions (skipped events, `postBatchResumeToken`s while the target is
/// stuck) share one entry holding the newest token: only it can ever become the covered token,
/// since the watermark passes a run of applied positions in one step. So a stall costs one entry
/// per unapplied event, however many positions are skipped in between (issue 11 item 18).
///
/// `T` is the token's form: the pipeline keeps the bytes the server sent (a `RawDocumentBuf`,
/// decoded only when a checkpoint stores it), tests and tools a `Document`.
#[derive(Debug)]
pub struct Watermark<T = Document> {
    /// Registered positions not covered yet, oldest first.
    window: VecDeque<Entry<T>>,
    /// The seq the next registration gets.
    next_seq: u64,
    /// Positions registered and not covered yet (a run counts each of its positions).
    pending: usize,
    /// The covered position: every event with seq <= `seq` is applied.
    token: Option<T>,
    seq: u64,
}

/// One event waiting to be applied, or a run of applied positions.
#[derive(Debug)]
struct Entry<T> {
    first_seq: u64,
    /// Seqs this entry stands for, from `first_seq` (more than 1 only for an applied run).
    positions: u64,
    /// The resume token (for a run, its newest).
    token: T,
    applied: bool,
}

impl<T> Default for Watermark<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Watermark<T> {
    pub fn new() -> Self {
        Watermark {
            window: VecDeque::new(),
            next_seq: 1,
            pending: 0,
            token: None,
            seq: 0,
        }
    }

    /// Registers an event not yet applied; returns its sequence number (strictly increasing).
    pub fn register(&mut self, token: T) -> u64 {
        self.push(token, false)
    }

    /// Registers a position with nothing to apply (skipped event, `postBatchResumeToken`): it counts as
    /// applied at once. Right after another applied position it joins that one's entry.
    pub fn register_applied(&mut self, token: T) -> u64 {
        if let Some(back) = self.window.back_mut().filter(|e| e.applied) {
            back.token = token;
            back.positions += 1;
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pending += 1;
            return seq;
        }
        let seq = self.push(token, true);
        self.advance();
        seq
    }

    /// Marks `seq` applied (any order; unknown or repeated seqs are ignored).
    pub fn ack(&mut self, seq: u64) {
        self.ack_all([seq]);
    }

    /// [`Self::ack`] of each of `seqs`; returns how many there were. A writer's batch comes in
    /// stream order: each next seq is found walking on from the previous one's entry, not by a
    /// binary search of its own (one per event was 1.5% of the replicator's CPU); a seq
    /// below the previous one is searched for.
    pub fn ack_all(&mut self, seqs: impl IntoIterator<Item = u64>) -> usize {
        let (mut n, mut after, mut prev) = (0, 0, None);
        for seq in seqs {
            n += 1;
            if prev.is_none_or(|p| seq < p) {
                after = self.window.partition_point(|e| e.first_seq <= seq);
            } else {
                while self.window.get(after).is_some_and(|e| e.first_seq <= seq) {
                    after += 1;
                }
            }
            prev = Some(seq);
            // Only a single event is ever unapplied; a seq inside a run is applied already.
            if let Some(entry) = after.checked_sub(1).and_then(|i| self.window.get_mut(i)) {
                if entry.first_seq == seq {
                    entry.applied = true;
                }
            }
        }
        self.advance();
        n
    }

    /// The token every event up to which is applied, if any advanced beyond the start.
    pub fn token(&self) -> Option<&T> {
        self.token.as_ref()
    }

    /// Sequence number the token belongs to (0 when none).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Registered positions not yet covered by the watermark.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Entries held for the positions not yet covered (what a stall costs in memory).
    pub fn window_len(&self) -> usize {
        self.window.len()
    }

    fn push(&mut self, token: T, applied: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.window.push_back(Entry {
            first_seq: seq,
            positions: 1,
            token,
            applied,
        });
        self.pending += 1;
        seq
    }

    /// Moves the covered position over the applied prefix of the window.
    fn advance(&mut self) {
        while self.window.front().is_some_and(|e| e.applied) {
            let entry = self.window.pop_front().expect("front checked");
            self.seq = entry.first_seq + entry.positions - 1;
            self.pending -= entry.positions as usize;
            self.token = Some(entry.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn tok(n: i32) -> Document {
        doc! { "_data": n }
    }

    #[test]
    fn stays_behind_the_oldest_unapplied_event() {
        let mut w = Watermark::new();
        assert_eq!(w.token(), None);
        let a = w.register(tok(1));
        let b = w.register(tok(2));
        let c = w.register(tok(3));
        assert_eq!((a, b, c), (1, 2, 3));
        w.ack(b);
        assert_eq!((w.token(), w.seq(), w.pending()), (None, 0, 3));
        w.ack(a);
        assert_eq!((w.token(), w.seq(), w.pending()), (Some(&tok(2)), 2, 1));
        w.ack(c);
        assert_eq!((w.token(), w.seq(), w.pending()), (Some(&tok(3)), 3, 0));
    }

    #[test]
    fn applied_positions_advance_only_when_reachable() {
        let mut w = Watermark::new();
        let a = w.register(tok(1));
        w.register_applied(tok(2));
        assert_eq!(w.token(), None);
        w.ack(a);
        assert_eq!(w.token(), Some(&tok(2)));
        let s = w.register_applied(tok(3));
        assert_eq!((w.token(), w.seq()), (Some(&tok(3)), s));
    }

    /// Item 18 of issue 11: while the target is stuck on one event, N skipped positions cost one
    /// entry, and the covered token is still exactly the newest of them once the event applies.
    #[test]
    fn consecutive_applied_positions_cost_one_entry_and_keep_the_newest_token() {
        let mut w = Watermark::new();
        let stuck = w.register(tok(0));
        for n in 1..=10_000 {
            w.register_applied(tok(n));
        }
        assert_eq!((w.window_len(), w.pending()), (2, 10_001));
        assert_eq!(w.token(), None, "nothing passes the stuck event");
        let next = w.register(tok(10_001));
        w.register_applied(tok(10_002));
        w.register_applied(tok(10_003));
        assert_eq!((w.window_len(), w.pending()), (4, 10_004));
        w.ack(stuck + 5);
        assert_eq!(w.token(), None, "a seq inside the run is applied already");
        w.ack(stuck);
        assert_eq!((w.token(), w.pending()), (Some(&tok(10_000)), 3));
        assert_eq!(w.seq() + 1, next, "the event after the run is next");
        w.ack(next);
        assert_eq!(
            (w.token(), w.window_len(), w.pending()),
            (Some(&tok(10_003)), 0, 0)
        );
        let after = w.register_applied(tok(10_004));
        assert_eq!((w.token(), w.seq()), (Some(&tok(10_004)), after));
    }

    #[test]
    fn unknown_and_repeated_acks_are_ignored() {
        let mut w = Watermark::new();
        let a = w.register(tok(1));
        w.ack(0);
        w.ack(99);
        assert_eq!(w.token(), None);
        w.ack(a);
        w.ack(a);
        assert_eq!((w.seq(), w.pending()), (1, 0));
    }
}
