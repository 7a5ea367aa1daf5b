//! The checkpointer against the memory store: what each save writes, and that the stored token
//! only moves forward over acknowledged events.

use super::*;
use crate::ops::metrics::Metrics;
use crate::ops::Status;
use crate::state::store::MemoryStore;
use bson::{doc, Document};
use proptest::prelude::*;

fn reporter() -> Reporter {
    Reporter {
        metrics: Metrics::new(),
        status: Status::new("src", "dst"),
        abort: CancellationToken::new(),
    }
}

/// A checkpointer over a fresh memory store starting from `state`.
fn checkpointer(state: Checkpoint) -> (Arc<Checkpointer>, Arc<MemoryStore>, Arc<Position>) {
    let store = Arc::new(MemoryStore::new());
    let position = Position::new();
    let cp = Checkpointer::new(store.clone(), state, position.clone(), reporter());
    (cp, store, position)
}

/// A token that names its sequence number, so a stored token says how far it got.
fn tok(seq: u64) -> Document {
    doc! {"_data": seq as i64}
}

fn stored_seq(cp: &Checkpoint) -> u64 {
    cp.resume_token
        .as_ref()
        .map_or(0, |t| t.get_i64("_data").expect("test token") as u64)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[tokio::test]
async fn save_now_writes_only_when_the_watermark_moved() {
    let (cp, store, position) = checkpointer(Checkpoint::default());
    cp.save_now().await.unwrap();
    assert!(store.saves().is_empty(), "no token yet: nothing to save");
    let a = position.register(tok(1), None);
    let b = position.register(tok(2), None);
    position.ack([b], None, None);
    cp.save_now().await.unwrap();
    assert!(
        store.saves().is_empty(),
        "seq 1 unacknowledged: still no token"
    );
    position.ack([a], None, None);
    cp.save_now().await.unwrap();
    cp.save_now().await.unwrap();
    let saves = store.saves();
    assert_eq!(saves.len(), 1, "the second save_now had nothing new");
    assert_eq!(saves[0].resume_token, Some(tok(2)));
    position.register_applied(tok(3));
    cp.save_now().await.unwrap();
    assert_eq!(store.saves().len(), 2);
    assert_eq!(store.saves()[1].resume_token, Some(tok(3)));
}

#[tokio::test]
async fn a_failed_save_is_retried_by_the_next_save_now() {
    let (cp, store, position) = checkpointer(Checkpoint::default());
    position.register_applied(tok(1));
    store.fail_next_saves(1);
    assert!(cp.save_now().await.is_err());
    assert!(store.saves().is_empty());
    cp.save_now().await.unwrap();
    assert_eq!(
        store.saves().len(),
        1,
        "the failure did not mark seq 1 saved"
    );
}

#[tokio::test]
async fn save_final_is_clean_only_when_drained_and_not_copying() {
    let (cp, store, position) = checkpointer(Checkpoint::default());
    position.register_applied(tok(1));
    cp.save_final(true).await.unwrap();
    let last = store.saves().pop().unwrap();
    assert!(last.clean, "drained, tailing");
    assert_eq!(
        last.resume_token,
        Some(tok(1)),
        "the final save writes the watermark"
    );
    cp.save_final(false).await.unwrap();
    assert!(!store.saves().pop().unwrap().clean, "not drained");

    let copying = Checkpoint {
        resume_token: Some(tok(0)),
        copying: true,
        ..Default::default()
    };
    let (cp, store, _) = checkpointer(copying);
    cp.save_final(true).await.unwrap();
    let last = store.saves().pop().unwrap();
    assert!(!last.clean, "an unfinished copy is never clean");
    assert_eq!(
        last.resume_token,
        Some(tok(0)),
        "no watermark: the start point stays"
    );
}

#[tokio::test]
async fn a_later_save_clears_clean() {
    let (cp, store, position) = checkpointer(Checkpoint {
        resume_token: Some(tok(0)),
        clean: true,
        ..Default::default()
    });
    position.register_applied(tok(1));
    cp.save_now().await.unwrap();
    assert!(
        !store.saves()[0].clean,
        "the tail moved on from the clean stop"
    );
    cp.save_state().await.unwrap();
    assert!(!store.saves()[1].clean);
}

#[tokio::test]
async fn gone_keys_recorded_by_writers_are_in_the_next_save() {
    let (cp, store, position) = checkpointer(Checkpoint::default());
    cp.unresolved.lock().record("c", doc! {"_id": 1});
    position.register_applied(tok(1));
    cp.save_now().await.unwrap();
    assert_eq!(
        store.saves()[0].unresolved_fetches,
        vec![doc! {"collection": "c", "key": {"_id": 1}}]
    );
    cp.unresolved
        .lock()
        .resolve("c", &crate::source::translate::DocKey::of(&doc! {"_id": 1}));
    cp.unresolved.lock().record("d", doc! {"_id": 2});
    cp.save_state().await.unwrap();
    assert_eq!(
        store.saves()[1].unresolved_fetches,
        vec![doc! {"collection": "d", "key": {"_id": 2}}]
    );
}

#[tokio::test]
async fn gone_keys_of_the_loaded_checkpoint_are_kept() {
    let stored = vec![doc! {"collection": "c", "key": {"_id": 7}}];
    let (cp, store, _) = checkpointer(Checkpoint {
        unresolved_fetches: stored.clone(),
        ..Default::default()
    });
    assert_eq!(cp.unresolved.lock().len(), 1);
    cp.save_state().await.unwrap();
    assert_eq!(store.saves()[0].unresolved_fetches, stored);
}

#[derive(Debug, Clone)]
enum Step {
    Register,
    RegisterApplied,
    /// Acknowledge the n-th (mod count) unacknowledged event.
    Ack(usize),
    SaveNow,
    SaveState,
    SaveFinal(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Register),
        1 => Just(Step::RegisterApplied),
        3 => any::<usize>().prop_map(Step::Ack),
        2 => Just(Step::SaveNow),
        1 => Just(Step::SaveState),
        1 => any::<bool>().prop_map(Step::SaveFinal),
    ]
}

/// Whether a step must leave the stored token at the watermark.
enum Kind {
    Covering,
    Other,
}

proptest! {
    #[test]
    fn the_stored_token_never_moves_back_nor_passes_an_unacknowledged_event(
        steps in prop::collection::vec(step(), 1..80)
    ) {
        block_on(async {
            let (cp, store, position) = checkpointer(Checkpoint::default());
            let mut unacked: Vec<u64> = Vec::new();
            let mut next = 1u64;
            let mut last_stored = 0u64;
            for s in steps {
                let s_kind = if matches!(s, Step::SaveNow | Step::SaveFinal(_)) { Kind::Covering } else { Kind::Other };
                match s {
                    Step::Register => {
                        let seq = position.register(tok(next), None);
                        prop_assert_eq!(seq, next);
                        unacked.push(seq);
                        next += 1;
                    }
                    Step::RegisterApplied => {
                        position.register_applied(tok(next));
                        next += 1;
                    }
                    Step::Ack(i) if !unacked.is_empty() => {
                        let seq = unacked.remove(i % unacked.len());
                        position.ack([seq], None, None);
                    }
                    Step::Ack(_) => {}
                    Step::SaveNow => cp.save_now().await.unwrap(),
                    Step::SaveState => cp.save_state().await.unwrap(),
                    Step::SaveFinal(clean) => cp.save_final(clean).await.unwrap(),
                }
                let Some(stored) = store.load().await.unwrap() else { continue };
                let seq = stored_seq(&stored);
                // The pre-DDL guarantee: a save_now (or the final save) leaves everything
                // acknowledged so far in the stored token, whatever saves came before it.
                if matches!(s_kind, Kind::Covering) {
                    prop_assert_eq!(seq, position.seq(), "a save_now left the acknowledged watermark unsaved");
                }
                prop_assert!(seq >= last_stored, "moved back from {} to {}", last_stored, seq);
                prop_assert!(
                    unacked.iter().all(|&u| u > seq),
                    "stored seq {} passes unacknowledged {:?}", seq, unacked
                );
                last_stored = seq;
            }
            Ok(())
        })?;
    }
}

/// History lost: the resync's copy records a new start point while the reused position still
/// holds the old tail's watermark. No later save (copy progress, ticks, the final save) may write
/// that stale token over the new start point; the first event of the new tail moves it on.
#[tokio::test]
async fn after_a_resync_the_old_tails_token_never_replaces_the_new_start_point() {
    let (cp, store, position) = checkpointer(Checkpoint::default());
    position.register_applied(tok(5));
    cp.save_now().await.unwrap();
    let start = doc! {"_data": "start"};
    cp.start_over(Checkpoint {
        resume_token: Some(start.clone()),
        copying: true,
        resync: true,
        ..Default::default()
    })
    .await;
    cp.save_state().await.unwrap();
    cp.save_now().await.unwrap();
    cp.state.lock().await.copying = false;
    cp.save_state().await.unwrap();
    cp.save_now().await.unwrap();
    cp.save_final(true).await.unwrap();
    let saves = store.saves();
    assert!(saves.len() >= 3, "{saves:?}");
    for s in &saves[1..] {
        assert_eq!(s.resume_token.as_ref(), Some(&start), "{saves:?}");
    }
    let seq = position.register(tok(6), None);
    position.ack([seq], None, None);
    cp.save_now().await.unwrap();
    assert_eq!(
        store.saves().last().unwrap().resume_token,
        Some(tok(6)),
        "the new tail's first event moves the token on"
    );
}

/// Saves from several tasks at once (the ticker's save_now, the watcher's pre-DDL save_now and
/// save_state, the final save) while events are acknowledged: every stored token is at least the
/// one before it. The position is read under the state lock, so no save writes an older one.
#[test]
fn concurrent_saves_never_store_an_older_token() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    for _round in 0..20 {
        let (cp, store, position) = checkpointer(Checkpoint::default());
        rt.block_on(async {
            let acker = {
                let position = position.clone();
                tokio::spawn(async move {
                    for i in 1..=2_000u64 {
                        position.register_applied(tok(i));
                        if i % 8 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            };
            let mut savers = Vec::new();
            for kind in 0..4 {
                let cp = cp.clone();
                savers.push(tokio::spawn(async move {
                    for _ in 0..500 {
                        match kind {
                            0 | 1 => cp.save_now().await.unwrap(),
                            2 => cp.save_state().await.unwrap(),
                            _ => cp.save_final(false).await.unwrap(),
                        }
                    }
                }));
            }
            acker.await.unwrap();
            for s in savers {
                s.await.unwrap();
            }
        });
        cp_final_check(&rt, &cp, &store, &position);
    }
}

/// The stored sequence never moved back, and a last save_now stores the whole watermark.
fn cp_final_check(
    rt: &tokio::runtime::Runtime,
    cp: &Arc<Checkpointer>,
    store: &MemoryStore,
    position: &Position,
) {
    let seqs: Vec<u64> = store.saves().iter().map(stored_seq).collect();
    for w in seqs.windows(2) {
        assert!(
            w[0] <= w[1],
            "stored token moved back: {} then {}",
            w[0],
            w[1]
        );
    }
    rt.block_on(cp.save_now()).unwrap();
    assert_eq!(
        stored_seq(&store.saves().pop().unwrap()),
        position.seq(),
        "the last save_now covers the watermark"
    );
}

/// The source identity set for the run is in every save, also over a version-1 checkpoint
/// (which had none) and across a new start point.
#[tokio::test]
async fn every_save_records_the_source_identity() {
    let (cp, store, _) = checkpointer(Checkpoint::default());
    let id = crate::state::SourceIdentity {
        set_name: Some("rs0".into()),
        replica_set_id: Some(bson::oid::ObjectId::new()),
    };
    cp.set_source(id.clone());
    cp.save_state().await.unwrap();
    cp.start_over(Checkpoint::default()).await;
    cp.save_state().await.unwrap();
    for s in store.saves() {
        assert_eq!(s.source.as_ref(), Some(&id));
    }
}
