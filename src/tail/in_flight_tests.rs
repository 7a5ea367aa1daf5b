//! The disjointness rule against a naive oracle: sets of (collection, key) pairs compared pair by
//! pair. Few collections and keys, so batches share keys often.

use super::*;
use bson::doc;
use proptest::prelude::*;
use std::collections::BTreeSet;

type Pairs = BTreeSet<(String, i32)>;

fn key(id: i32) -> DocKey {
    DocKey::of(&doc! {"_id": id})
}

/// The batch keys of `pairs`, grouped by collection as the builder groups them.
fn keys_of(pairs: &Pairs) -> BatchKeys {
    let mut colls: Vec<(String, HashSet<DocKey>)> = Vec::new();
    for (coll, id) in pairs {
        match colls.iter_mut().find(|(c, _)| c == coll) {
            Some((_, keys)) => {
                keys.insert(key(*id));
            }
            None => colls.push((coll.clone(), HashSet::from([key(*id)]))),
        }
    }
    BatchKeys::new(colls)
}

fn pairs() -> impl Strategy<Value = Pairs> {
    let pair = (prop::sample::select(vec!["a", "b", "c"]), 0..6i32);
    prop::collection::btree_set(pair.prop_map(|(c, id)| (c.to_string(), id)), 0..6)
}

proptest! {
    #[test]
    fn disjoint_exactly_when_no_pair_is_shared(x in pairs(), y in pairs()) {
        let (kx, ky) = (keys_of(&x), keys_of(&y));
        let naive = x.intersection(&y).next().is_none();
        prop_assert_eq!(kx.is_disjoint(&ky), naive);
        prop_assert_eq!(ky.is_disjoint(&kx), naive);
        prop_assert_eq!(kx.len(), x.len());
        for (coll, id) in &y {
            prop_assert_eq!(kx.contains(coll, &key(*id)), x.contains(&(coll.clone(), *id)));
        }
    }

    /// The next batch waits for every batch up to the newest one it shares a key with, and
    /// for none when it shares none.
    #[test]
    fn the_next_batch_waits_up_to_the_newest_overlapping_one(
        sent in prop::collection::vec(pairs(), 0..5),
        next in pairs(),
    ) {
        let mut in_flight = InFlight::default();
        for (i, batch) in sent.iter().enumerate() {
            in_flight.push(keys_of(batch), i);
        }
        let naive = (sent.iter())
            .rposition(|b| b.intersection(&next).next().is_some())
            .map_or(0, |i| i + 1);
        let waits = in_flight.waits_for(&keys_of(&next));
        prop_assert_eq!(waits, naive);
        // Once those are taken (oldest first), the rest is disjoint from the next batch.
        for expected in 0..waits {
            prop_assert_eq!(in_flight.pop_front(), Some(expected));
        }
        prop_assert_eq!(in_flight.waits_for(&keys_of(&next)), 0);
        prop_assert_eq!(in_flight.len(), sent.len() - waits);
    }

    /// A split batch's part sent at once is exactly its pairs no batch in flight writes: it
    /// waits for none, and the held-back part waits as the whole batch did.
    #[test]
    fn a_split_sends_at_once_exactly_the_pairs_no_batch_in_flight_writes(
        sent in prop::collection::vec(pairs(), 0..5),
        next in pairs(),
    ) {
        let mut in_flight = InFlight::default();
        for (i, batch) in sent.iter().enumerate() {
            in_flight.push(keys_of(batch), i);
        }
        let (held, free): (Pairs, Pairs) = (next.iter().cloned())
            .partition(|(coll, id)| in_flight.writes(coll, &key(*id)));
        let naive_free: Pairs = (next.iter())
            .filter(|p| sent.iter().all(|b| !b.contains(p)))
            .cloned()
            .collect();
        prop_assert_eq!(&free, &naive_free);
        prop_assert_eq!(in_flight.waits_for(&keys_of(&free)), 0);
        prop_assert_eq!(
            in_flight.waits_for(&keys_of(&held)),
            in_flight.waits_for(&keys_of(&next))
        );
    }
}

#[test]
fn the_same_key_in_another_collection_is_disjoint() {
    let a = keys_of(&Pairs::from([("a".to_string(), 1)]));
    let b = keys_of(&Pairs::from([("b".to_string(), 1)]));
    assert!(a.is_disjoint(&b));
    assert!(!a.is_disjoint(&a.clone()));
    assert!(BatchKeys::default().is_disjoint(&a));
}
