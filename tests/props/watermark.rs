//! Property: the checkpoint watermark never passes an unapplied event, never moves backwards,
//! and reaches the last token once everything is acknowledged, whatever the ack order.

use bson::doc;
use mongo_replicator::state::watermark::Watermark;
use proptest::prelude::*;

/// Events: `true` = needs applying, `false` = counts as applied at once (skip / post-batch token).
fn scenario() -> impl Strategy<Value = (Vec<bool>, Vec<usize>)> {
    prop::collection::vec(any::<bool>(), 1..60).prop_flat_map(|events| {
        let n = events.len();
        (
            Just(events),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(super::config(512))]

    #[test]
    fn watermark_is_a_safe_monotonic_low_watermark((events, order) in scenario(), dup in any::<bool>()) {
        let mut w = Watermark::new();
        let mut applied = vec![false; events.len()];
        let mut seqs = Vec::new();
        for (i, needs_apply) in events.iter().enumerate() {
            let token = doc! { "_data": i as i64 };
            let seq = if *needs_apply { w.register(token) } else { w.register_applied(token) };
            applied[i] = !needs_apply;
            if let Some(prev) = seqs.last() {
                prop_assert!(seq > *prev, "seqs strictly increase");
            }
            seqs.push(seq);
        }
        // Runs of applied positions share an entry: memory follows the unapplied events only.
        let unapplied = events.iter().filter(|e| **e).count();
        prop_assert!(w.window_len() <= 2 * unapplied + 1, "{} entries", w.window_len());
        let mut last_seq = w.seq();
        for i in order {
            if !events[i] {
                continue;
            }
            w.ack(seqs[i]);
            if dup {
                w.ack(seqs[i]);
            }
            applied[i] = true;
            // Never backwards.
            prop_assert!(w.seq() >= last_seq);
            last_seq = w.seq();
            // Never past an unapplied event: everything up to the token's event is applied.
            let covered = seqs.iter().take_while(|s| **s <= w.seq()).count();
            prop_assert!(applied[..covered].iter().all(|a| *a));
            // As far as possible: the next event after the token is not applied.
            if covered < events.len() {
                prop_assert!(!applied[covered]);
            }
            match w.token() {
                Some(t) => prop_assert_eq!(t, &doc! { "_data": (covered - 1) as i64 }),
                None => prop_assert_eq!(covered, 0),
            }
            prop_assert_eq!(w.pending(), events.len() - covered);
        }
        prop_assert_eq!(w.token(), Some(&doc! { "_data": (events.len() - 1) as i64 }));
        prop_assert_eq!(w.seq(), *seqs.last().unwrap());
        prop_assert_eq!(w.pending(), 0);
    }
}

proptest! {
    #![proptest_config(super::config(512))]

    /// A writer acknowledges a batch at once (`ack_all`, its seqs ascending, or in any order):
    /// the watermark ends where acknowledging each seq alone leaves it, after every batch.
    #[test]
    fn acking_a_batch_at_once_equals_acking_each_seq(
        (events, order) in scenario(),
        cuts in prop::collection::vec(1usize..8, 1..20),
        sorted in any::<bool>(),
    ) {
        let (mut one, mut all) = (Watermark::new(), Watermark::new());
        let mut seqs = Vec::new();
        for (i, needs_apply) in events.iter().enumerate() {
            let token = doc! { "_data": i as i64 };
            let seq = match needs_apply {
                true => (one.register(token.clone()), all.register(token)).0,
                false => (one.register_applied(token.clone()), all.register_applied(token)).0,
            };
            seqs.push(seq);
        }
        let mut rest: Vec<u64> = order.iter().filter(|i| events[**i]).map(|i| seqs[*i]).collect();
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let mut batch: Vec<u64> = rest.drain(..n).collect();
            if sorted {
                batch.sort_unstable();
            }
            for s in &batch {
                one.ack(*s);
            }
            prop_assert_eq!(all.ack_all(batch.iter().copied()), batch.len());
            prop_assert_eq!((one.token(), one.seq(), one.pending()), (all.token(), all.seq(), all.pending()));
            prop_assert_eq!(one.window_len(), all.window_len());
        }
        prop_assert_eq!(all.pending(), 0);
    }
}
