//! The checkpoint low watermark: the resume token of the highest sequence number below which
//! every event is applied. Pure: no I/O. It never passes an unapplied event and never moves back.
// OWNER: core-logic helper.

use bson::Document;

#[derive(Debug, Default)]
pub struct Watermark {
    _private: (),
}

impl Watermark {
    pub fn new() -> Self {
        todo!("core-logic")
    }

    /// Registers an event not yet applied; returns its sequence number (strictly increasing).
    pub fn register(&mut self, token: Document) -> u64 {
        let _ = token;
        todo!("core-logic")
    }

    /// Registers a position with nothing to apply (skipped event, `postBatchResumeToken`): it counts as
    /// applied at once.
    pub fn register_applied(&mut self, token: Document) -> u64 {
        let _ = token;
        todo!("core-logic")
    }

    /// Marks `seq` applied (any order; unknown or repeated seqs are ignored).
    pub fn ack(&mut self, seq: u64) {
        let _ = seq;
        todo!("core-logic")
    }

    /// The token every event up to which is applied, if any advanced beyond the start.
    pub fn token(&self) -> Option<&Document> {
        todo!("core-logic")
    }

    /// Sequence number the token belongs to (0 when none).
    pub fn seq(&self) -> u64 {
        todo!("core-logic")
    }

    /// Registered events not yet covered by the watermark.
    pub fn pending(&self) -> usize {
        todo!("core-logic")
    }
}
