//! The checkpoint low watermark: the resume token of the highest sequence number below which
//! every event is applied. Pure: no I/O. It never passes an unapplied event and never moves back.

use bson::Document;
use std::collections::VecDeque;

/// Sequence numbers are contiguous (`register*` hands out `next`, `next + 1`, ...), so the events
/// not yet covered sit in a deque indexed by `seq - front_seq`: `ack` is O(1) and advancing is
/// amortized O(1) per event.
#[derive(Debug)]
pub struct Watermark {
    /// Registered events not covered yet, oldest first: (token, applied).
    window: VecDeque<(Document, bool)>,
    /// Sequence number of `window[0]`.
    front_seq: u64,
    /// The covered position: every event with seq <= `seq` is applied.
    token: Option<Document>,
    seq: u64,
}

impl Default for Watermark {
    fn default() -> Self {
        Self::new()
    }
}

impl Watermark {
    pub fn new() -> Self {
        Watermark {
            window: VecDeque::new(),
            front_seq: 1,
            token: None,
            seq: 0,
        }
    }

    /// Registers an event not yet applied; returns its sequence number (strictly increasing).
    pub fn register(&mut self, token: Document) -> u64 {
        self.push(token, false)
    }

    /// Registers a position with nothing to apply (skipped event, `postBatchResumeToken`): it counts as
    /// applied at once.
    pub fn register_applied(&mut self, token: Document) -> u64 {
        let seq = self.push(token, true);
        self.advance();
        seq
    }

    /// Marks `seq` applied (any order; unknown or repeated seqs are ignored).
    pub fn ack(&mut self, seq: u64) {
        let Some(index) = seq.checked_sub(self.front_seq) else {
            return;
        };
        if let Some(entry) = usize::try_from(index)
            .ok()
            .and_then(|i| self.window.get_mut(i))
        {
            entry.1 = true;
            self.advance();
        }
    }

    /// The token every event up to which is applied, if any advanced beyond the start.
    pub fn token(&self) -> Option<&Document> {
        self.token.as_ref()
    }

    /// Sequence number the token belongs to (0 when none).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Registered events not yet covered by the watermark.
    pub fn pending(&self) -> usize {
        self.window.len()
    }

    fn push(&mut self, token: Document, applied: bool) -> u64 {
        let seq = self.front_seq + self.window.len() as u64;
        self.window.push_back((token, applied));
        seq
    }

    /// Moves the covered position over the applied prefix of the window.
    fn advance(&mut self) {
        while self.window.front().is_some_and(|(_, applied)| *applied) {
            let (token, _) = self.window.pop_front().expect("front checked");
            self.seq = self.front_seq;
            self.front_seq += 1;
            self.token = Some(token);
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
