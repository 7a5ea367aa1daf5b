//! The watcher's side of `[apply.hold]`: destructive changes wait for an operator.
//!
//! A collection becomes held by its drop (`drops = true`) or by the delete over
//! `deletes_per_minute` ([`super::delete_rate`]). From then on every event of that collection
//! waits in stream order (the same bounded per-collection queues as a paused collection,
//! [`crate::control::held`]), pending in the watermark so the checkpoint never passes the
//! first of them; every other collection flows. A `dropDatabase` with `drops = true` is not
//! applied: each of its collections was announced by its own (held) drop. A rename over an
//! existing collection holds that collection as its drop, with reading stopped. A DDL naming one
//! held collection waits in its queue; one naming several (a rename), or a `dropDatabase`
//! while anything is held, waits with reading stopped until they are released or discarded.
//!
//! Release applies the queue in order. Discard skips its destructive events (the drop, the
//! deletes: the backup keeps those documents; for a rename over a collection, the replaced
//! documents are kept under the new name) and applies the rest in order. Either way the
//! collection flows again and its delete count starts afresh. Which collections are held is
//! kept in the checkpoint ([`crate::control::holds`]): a restart re-reads the held events
//! (the checkpoint is before them) and holds them again.

use super::delete_rate::DeleteRate;
use super::router::Item;
use super::watcher::{StreamState, Watcher};
use crate::config::HoldConfig;
use crate::control::held::Held;
use crate::control::holds::{Decision, HoldKind, Holds};
use crate::error::Result;
use crate::source::translate::{ClusterTime, DdlOp, WriteKind};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One held event (held events are few and wait for a person: the size is no concern).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum HoldItem {
    Write(Item),
    Ddl {
        op: DdlOp,
        seq: u64,
    },
    /// A rename over an existing collection (`drops`): discard keeps the backup's documents of
    /// the replaced collection under the new name, with the renamed ones.
    RenameOver {
        op: DdlOp,
        seq: u64,
    },
}

/// What the watcher keeps for `apply.hold`.
pub struct HoldGate {
    pub holds: Arc<Holds>,
    pub config: HoldConfig,
    queues: parking_lot::Mutex<Held<HoldItem>>,
    rate: parking_lot::Mutex<DeleteRate>,
}

impl HoldGate {
    pub fn new(holds: Arc<Holds>, config: HoldConfig) -> Self {
        HoldGate {
            holds,
            rate: parking_lot::Mutex::new(DeleteRate::new(config.deletes_per_minute)),
            config,
            queues: Default::default(),
        }
    }

    /// Events are waiting for an operator (a stop now is not clean).
    pub fn holding(&self) -> bool {
        !self.queues.lock().is_empty()
    }
}

/// An event's source time in ms: `wallTime`, else its cluster time's seconds.
pub fn source_ms(wall_ms: Option<i64>, cluster_time: Option<ClusterTime>) -> Option<i64> {
    wall_ms.or_else(|| cluster_time.map(|ct| i64::from(ct.timestamp().time) * 1000))
}

/// The collections a DDL names.
fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

impl Watcher {
    /// Routes a write, or holds it: its collection is held, or it is the delete over the
    /// threshold (which starts the hold).
    pub(super) async fn gate_write(
        &self,
        item: Item,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<()> {
        let gate = &self.hold;
        let coll = item.op.coll.clone();
        let mut held = gate.holds.is_held(&coll);
        if !held && matches!(item.op.kind, WriteKind::Delete) {
            let at = source_ms(item.wall_ms, item.cluster_time).unwrap_or_else(now_ms);
            if gate.rate.lock().over(&coll, at) {
                self.start_hold(&coll, HoldKind::Deletes).await?;
                held = true;
            }
        }
        if !held {
            return self.hold_or_route(item, stop).await;
        }
        let bytes = crate::apply::batch::op_size(&item.op);
        self.queue(&coll, HoldItem::Write(item), bytes, state, stop)
            .await
    }

    /// Applies a DDL event (`seq` in the watermark; `replaces`: a rename over an existing
    /// collection), or holds it (see the module doc).
    pub(super) async fn gate_ddl(
        &self,
        (op, seq): (DdlOp, u64),
        replaces: bool,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<()> {
        let holds = self.hold.holds.clone();
        match &op {
            DdlOp::Rename { from, to } if replaces && self.hold.config.drops => {
                let (from, to) = (from.clone(), to.clone());
                if holds.is_held(&from) {
                    self.wait_while_held(|h| h.is_held(&from), state, stop)
                        .await?;
                }
                // The drop of the replaced collection: `to` is held by it. The rename moves
                // `from` too, so reading stops until the decision (`from`'s later events wait).
                self.start_hold(&to, HoldKind::Drop).await?;
                let item = HoldItem::RenameOver { op, seq };
                self.queue(&to, item, 0, state, stop).await?;
                return self.wait_while_held(|h| h.is_held(&to), state, stop).await;
            }
            DdlOp::Drop { coll } if self.hold.config.drops => {
                let coll = coll.clone();
                self.start_hold(&coll, HoldKind::Drop).await?;
                return self
                    .queue(&coll, HoldItem::Ddl { op, seq }, 0, state, stop)
                    .await;
            }
            DdlOp::DropDatabase if self.hold.config.drops => {
                tracing::warn!("the source database was dropped; each collection's drop is held (apply.hold.drops)");
                self.position.ack([seq], None, None);
                return Ok(());
            }
            DdlOp::DropDatabase if holds.any() => {
                self.wait_while_held(|h| h.any(), state, stop).await?;
            }
            _ => {
                let names: Vec<String> = op.collections().into_iter().map(String::from).collect();
                if let [only] = names.as_slice() {
                    if holds.is_held(only) {
                        return self
                            .queue(only, HoldItem::Ddl { op, seq }, 0, state, stop)
                            .await;
                    }
                } else if names.iter().any(|c| holds.is_held(c)) {
                    self.wait_while_held(|h| names.iter().any(|c| h.is_held(c)), state, stop)
                        .await?;
                }
            }
        }
        self.apply_ddl_event(&op, seq, state).await
    }

    /// Appends `item` (`bytes` against the queues' bound) to `coll`'s held events.
    async fn queue(
        &self,
        coll: &str,
        item: HoldItem,
        bytes: usize,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<()> {
        self.hold.queues.lock().push(coll, item, bytes);
        self.report_holds();
        self.wait_for_room(state, stop).await
    }

    /// Carries out the operators' decisions (cheap while nothing is held).
    pub(super) async fn act_on_holds(
        &self,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<()> {
        for (coll, decision) in self.hold.holds.take_requests() {
            let items = self.hold.queues.lock().release(|c| c != coll);
            let (mut applied, mut skipped) = (0usize, 0usize);
            for item in items {
                match (item, decision) {
                    (HoldItem::Write(w), Decision::Discard)
                        if matches!(w.op.kind, WriteKind::Delete) =>
                    {
                        self.position.ack([w.seq], w.wall_ms, w.cluster_time);
                        skipped += 1;
                    }
                    (HoldItem::Write(w), _) => {
                        self.hold_or_route(w, stop).await?;
                        applied += 1;
                    }
                    (
                        HoldItem::Ddl {
                            op: DdlOp::Drop { .. },
                            seq,
                        },
                        Decision::Discard,
                    ) => {
                        self.position.ack([seq], None, None);
                        skipped += 1;
                    }
                    (HoldItem::Ddl { op, seq }, _) => {
                        self.apply_ddl_event(&op, seq, state).await?;
                        applied += 1;
                    }
                    (HoldItem::RenameOver { op, seq }, decision) => {
                        if let (DdlOp::Rename { from, to }, Decision::Discard) = (&op, decision) {
                            self.reporter
                                .retry("keeping the replaced collection's documents", || {
                                    crate::apply::ddl::keep_replaced_documents(
                                        &self.target,
                                        from,
                                        to,
                                    )
                                })
                                .await?;
                            // The drop is skipped; the move is applied.
                            skipped += 1;
                        } else {
                            applied += 1;
                        }
                        self.apply_ddl_event(&op, seq, state).await?;
                    }
                }
            }
            self.hold.rate.lock().forget(&coll);
            self.hold.holds.finish(&coll);
            self.report_holds();
            self.store_holds().await?;
            tracing::warn!(collection = %coll, applied, skipped, decision = decision.as_str(), "held changes {}", decision.as_str());
            self.reporter.status.bus().emit(
                "held_change",
                serde_json::json!({
                    "collection": coll, "action": decision.as_str(),
                    "applied": applied, "skipped": skipped,
                }),
            );
        }
        Ok(())
    }

    async fn start_hold(&self, coll: &str, kind: HoldKind) -> Result<()> {
        if !self.hold.holds.hold(coll, kind, now_ms()) {
            return Ok(());
        }
        tracing::warn!(collection = %coll, kind = kind.as_str(), "holding destructive changes until an operator releases or discards them (apply.hold)");
        self.reporter.status.bus().emit(
            "held_change",
            serde_json::json!({ "collection": coll, "action": "held", "kind": kind.as_str() }),
        );
        self.store_holds().await
    }

    /// Writes the held collections into the checkpoint (a hold survives kill -9 from here).
    async fn store_holds(&self) -> Result<()> {
        self.checkpointer.state.lock().await.holds = self.hold.holds.snapshot();
        self.reporter
            .retry("writing the checkpoint", || self.checkpointer.save_state())
            .await
    }

    fn report_holds(&self) {
        let counts = self.hold.queues.lock().summary().0;
        let total = counts.values().sum();
        self.hold.holds.set_counts(counts);
        self.reporter.metrics.set_held_changes(total);
    }

    /// At the queues' bound reading stops (every collection waits) until a decision frees room.
    async fn wait_for_room(&self, state: &mut StreamState, stop: &CancellationToken) -> Result<()> {
        if !self.hold.queues.lock().full() {
            return Ok(());
        }
        tracing::warn!(
            "changes held by apply.hold reached their bound ({} events): reading stopped until one is released or discarded",
            crate::control::held::MAX_HELD_EVENTS
        );
        self.flush_routed().await?;
        loop {
            let changes = self.hold.holds.subscribe();
            self.act_on_holds(state, stop).await?;
            if !self.hold.queues.lock().full() {
                return Ok(());
            }
            wait_for_decision(changes, stop).await?;
        }
    }

    /// Waits, carrying out decisions, while `still` holds.
    async fn wait_while_held(
        &self,
        still: impl Fn(&Holds) -> bool,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<()> {
        tracing::warn!("a DDL event waits until the held collections it touches are released or discarded: reading stopped");
        self.flush_routed().await?;
        loop {
            let changes = self.hold.holds.subscribe();
            self.act_on_holds(state, stop).await?;
            if !still(&self.hold.holds) {
                return Ok(());
            }
            wait_for_decision(changes, stop).await?;
        }
    }
}

/// Waits for the next change after `changes` was taken (a decision made meanwhile wakes it).
async fn wait_for_decision(
    mut changes: tokio::sync::watch::Receiver<u64>,
    stop: &CancellationToken,
) -> Result<()> {
    tokio::select! {
        _ = changes.changed() => Ok(()),
        _ = stop.cancelled() => Err(crate::error::retry::cancelled("waiting for held changes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_time_is_the_wall_time_else_the_cluster_time() {
        let ct = ClusterTime(bson::Timestamp {
            time: 1_700_000_000,
            increment: 3,
        });
        assert_eq!(source_ms(Some(5), Some(ct)), Some(5));
        assert_eq!(source_ms(None, Some(ct)), Some(1_700_000_000_000));
        assert_eq!(source_ms(None, None), None);
    }
}
