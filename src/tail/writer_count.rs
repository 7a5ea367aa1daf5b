//! How many writers the tail runs. A writer sends one batch at a time when every batch must
//! wait for the one before it ([history] on: entries are written before their batch, in stream
//! order), so there the `apply.writes_in_flight` batches a writer would have had on the wire
//! become writers of their own: turning history on keeps the batches awaiting the backup at
//! `apply.workers x apply.writes_in_flight` instead of falling to one per writer. Two-way sync
//! (a guard, also one batch at a time) keeps the writers it configures.

use crate::config::MAX_WORKERS;

/// Writers for `workers` writers of `writes_in_flight` batches each, when each writer can
/// (`pipelined`) or cannot have more than one batch in flight; at most [`MAX_WORKERS`].
pub fn writers(workers: usize, writes_in_flight: usize, pipelined: bool) -> usize {
    if pipelined {
        workers
    } else {
        workers
            .saturating_mul(writes_in_flight.max(1))
            .min(MAX_WORKERS)
            .max(workers)
    }
}

/// Batches one writer keeps in flight: `writes_in_flight` when it can (`pipelined`), else 1.
pub fn in_flight_per_writer(writes_in_flight: usize, pipelined: bool) -> usize {
    match pipelined {
        true => writes_in_flight.max(1),
        false => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_default_with_history_runs_four_writers() {
        assert_eq!(writers(1, 4, true), 1);
        assert_eq!(writers(1, 4, false), 4);
        assert_eq!(writers(4, 1, false), 4);
        assert_eq!(in_flight_per_writer(4, true), 4);
        assert_eq!(in_flight_per_writer(4, false), 1);
        assert_eq!(in_flight_per_writer(0, true), 1);
    }

    proptest! {
        /// Never fewer writers than configured; without pipelining, the batches on the wire
        /// (one per writer) are the configured `workers x writes_in_flight`, up to the cap.
        #[test]
        fn batches_on_the_wire_are_kept_up_to_the_cap(w in 1usize..=256, f in 1usize..=16) {
            prop_assert_eq!(writers(w, f, true), w);
            let n = writers(w, f, false);
            prop_assert!(n >= w);
            prop_assert_eq!(n, (w * f).min(MAX_WORKERS));
        }
    }
}
