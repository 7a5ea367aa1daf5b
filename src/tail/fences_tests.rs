//! Fences: which events they cover, pruning by the stream's progress, and the bound.

use super::*;
use crate::apply::Fetched;
use crate::ops::Op;
use crate::source::translate::WriteOp;
use bson::{doc, Timestamp};

fn at(time: u32) -> ClusterTime {
    ClusterTime(Timestamp { time, increment: 1 })
}

fn item(coll: &str, id: i32, ct: Option<ClusterTime>) -> Item {
    with_kind(coll, id, ct, WriteKind::Delete)
}

fn with_kind(coll: &str, id: i32, ct: Option<ClusterTime>, kind: WriteKind) -> Item {
    Item {
        seq: 1,
        op: WriteOp {
            coll: coll.into(),
            key: doc! {"_id": id}.into(),
            kind,
        },
        op_label: Op::Delete,
        wall_ms: None,
        cluster_time: ct,
        coll_uuid: None,
        pre_image: None,
        event: None,
        grant: None,
    }
}

fn delta() -> WriteKind {
    WriteKind::Delta {
        set: crate::source::translate::body(&doc! {"a": 1}),
        unset: vec![],
        truncate: vec![],
    }
}

fn fetched(coll: &str, id: i32, time: u32) -> Fetched {
    Fetched {
        coll: coll.into(),
        key: doc! {"_id": id},
        at: at(time),
    }
}

#[test]
fn covers_only_events_up_to_the_fence_of_that_key_and_collection() {
    let mut f = Fences::default();
    assert!(!f.covers(&item("c", 1, Some(at(5)))), "no fence yet");
    f.record(vec![fetched("c", 1, 10)]);
    assert!(f.covers(&item("c", 1, Some(at(9)))));
    assert!(
        f.covers(&item("c", 1, Some(at(10)))),
        "the read saw the event at its own time"
    );
    assert!(
        !f.covers(&item("c", 1, Some(at(11)))),
        "later than the read"
    );
    assert!(!f.covers(&item("c", 2, Some(at(9)))), "other key");
    assert!(!f.covers(&item("d", 1, Some(at(9)))), "other collection");
    assert!(
        !f.covers(&item("c", 1, None)),
        "no cluster time: never covered"
    );
}

#[test]
fn a_later_fetch_moves_the_fence() {
    let mut f = Fences::default();
    f.record(vec![fetched("c", 1, 10)]);
    f.record(vec![fetched("c", 1, 20)]);
    assert!(f.covers(&item("c", 1, Some(at(15)))));
}

#[test]
fn prune_keeps_only_fences_newer_than_seen() {
    let mut f = Fences::default();
    f.record(vec![fetched("c", 1, 10), fetched("c", 2, 100)]);
    f.record(vec![fetched("c", -1, 200)]);
    f.prune(None);
    assert_eq!(f.held(), 3, "nothing seen: nothing pruned");
    f.prune(Some(at(100)));
    assert!(
        !f.covers(&item("c", 1, Some(at(9)))),
        "passed by the stream"
    );
    assert!(!f.covers(&item("c", 2, Some(at(99)))), "at `seen`: passed");
    assert!(
        f.covers(&item("c", -1, Some(at(150)))),
        "newer than seen: kept"
    );
    assert_eq!(f.held(), 1);
}

#[test]
fn a_key_fenced_again_is_pruned_by_its_newest_fence_only() {
    let mut f = Fences::default();
    f.record(vec![fetched("c", 1, 10)]);
    f.record(vec![fetched("c", 1, 30)]);
    f.prune(Some(at(20)));
    assert!(
        f.covers(&item("c", 1, Some(at(25)))),
        "the older time's entry is stale"
    );
    f.prune(Some(at(30)));
    assert_eq!(f.held(), 0);
}

/// Issue 11 item 20: a long replay fetches far more documents than the stream passes; the
/// fences stay bounded, and the index under them too when the same keys are fenced again.
#[test]
fn fences_stay_bounded_during_a_long_replay() {
    let mut f = Fences::default();
    let n = MAX_FENCES as i32 + 10;
    for i in 0..n {
        f.record(vec![fetched("c", i, 1_000 + i as u32)]);
        f.prune(Some(at(1)));
    }
    assert_eq!(f.held(), MAX_FENCES);
    assert!(!f.covers(&item("c", 9, Some(at(1_000)))), "oldest evicted");
    assert!(f.covers(&item("c", n - 1, Some(at(1_000)))), "newest kept");
    for round in 0..3u32 {
        let again = (0..MAX_FENCES as i32).map(|i| fetched("d", i % 10, 500_000 + round));
        f.record(again.collect());
    }
    assert!(f.held() <= MAX_FENCES && f.indexed <= 2 * MAX_FENCES);
}

/// An evicted fence cannot cover its document's deltas any more: every delta up to the
/// newest evicted fence is re-read instead, which is exact with or without a fence.
#[test]
fn deltas_up_to_an_evicted_fence_are_re_read() {
    let mut f = Fences::default();
    let mut probe = with_kind("c", 0, Some(at(5)), delta());
    f.refetch_below_floor(&mut probe);
    assert_eq!(probe.op.kind, delta(), "nothing evicted: applied as is");
    let many = (0..=MAX_FENCES as i32).map(|i| fetched("c", i, 10 + i as u32 / 1000));
    f.record(many.collect());
    let floor = at(10);
    for (ct, want) in [
        (at(5), WriteKind::Fetch),
        (floor, WriteKind::Fetch),
        (at(11), delta()),
    ] {
        let mut it = with_kind("c", 0, Some(ct), delta());
        f.refetch_below_floor(&mut it);
        assert_eq!(it.op.kind, want, "{ct:?}");
    }
    let mut upsert = with_kind("c", 0, Some(at(5)), WriteKind::upsert(doc! {"_id": 0}));
    f.refetch_below_floor(&mut upsert);
    assert_eq!(
        upsert.op.kind,
        WriteKind::upsert(doc! {"_id": 0}),
        "exact already"
    );
}
