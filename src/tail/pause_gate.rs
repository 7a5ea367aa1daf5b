//! The watcher's side of pause/resume ([`crate::control`]): the one place it waits for an
//! operator. Pause all: no event is read or handed on until resumed. Pause one collection:
//! its events are held (pending in the watermark, so the checkpoint holds) and handed on in
//! stream order once it is resumed; a DDL waits until no collection is paused (it could touch
//! a held one), and so does everything when the held buffer is full.

use crate::control::held::Held;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::tail::router::Item;
use crate::tail::watcher::Watcher;
use tokio_util::sync::CancellationToken;

/// Held items of paused collections (owned by the watcher).
pub type HeldItems = parking_lot::Mutex<Held<Item>>;

impl Watcher {
    /// Before each event: hands on what a resume released, waits while everything is paused.
    /// `false`: stopped while paused (the event was not handled; the caller returns).
    pub(super) async fn pause_gate(
        &self,
        event: &bson::RawDocument,
        stop: &CancellationToken,
    ) -> Result<bool> {
        self.release_held().await?;
        if !self.pauses.all() {
            return Ok(true);
        }
        // Lag keeps rising while paused, from the source write of the event held back.
        let wall = crate::source::translate::event_meta(event)
            .ok()
            .and_then(|m| m.wall_time_ms);
        self.position.hold_lag_from(wall);
        self.flush_routed().await?;
        tracing::info!("paused: reading stopped until resumed");
        if !self.pauses.wait_while(|p| p.all(), stop).await {
            return Ok(false);
        }
        tracing::info!("resumed");
        self.release_held().await?;
        Ok(true)
    }

    /// Routes `item`, or holds it when its collection is paused (waiting, with reading stopped,
    /// while the held buffer is full).
    pub(super) async fn hold_or_route(&self, item: Item, stop: &CancellationToken) -> Result<()> {
        let paused = self.pauses.is_paused(&item.op.coll);
        if !paused && self.held.lock().is_empty() {
            return self.route(item).await;
        }
        let coll = item.op.coll.clone();
        let bytes = crate::apply::batch::op_size(&item.op);
        // Resumed since the last release: the item follows what its collection still holds.
        let now = self.held.lock().hold_or_pass(&coll, item, bytes, paused);
        if !now.is_empty() {
            for item in now {
                self.route(item).await?;
            }
            self.report_held(None);
            return Ok(());
        }
        let full = self.held.lock().full();
        self.report_held(None);
        if full {
            let why = format!(
                "events held for paused collections reached their bound ({} events / {} MiB): reading stopped for every collection until one is resumed",
                crate::control::held::MAX_HELD_EVENTS,
                crate::control::held::MAX_HELD_BYTES >> 20
            );
            tracing::warn!("{why}");
            self.report_held(Some(why));
            let held_colls: Vec<String> = self.held.lock().summary().0.into_keys().collect();
            self.flush_routed().await?;
            self.pauses
                .wait_while(|p| held_colls.iter().all(|c| p.is_paused(c)), stop)
                .await;
            self.release_held().await?;
        }
        Ok(())
    }

    /// Before a DDL: waits until no collection is paused and every held event is handed on.
    pub(super) async fn before_ddl(&self, stop: &CancellationToken) -> Result<()> {
        if self.pauses.any() && !self.pauses.all() {
            let why = "a DDL event waits until every paused collection is resumed: reading stopped"
                .to_string();
            tracing::warn!("{why}");
            self.report_held(Some(why));
            self.flush_routed().await?;
            if !self.pauses.wait_while(|p| p.any() && !p.all(), stop).await {
                return Err(crate::error::retry::cancelled(
                    "waiting for paused collections before a DDL",
                ));
            }
        }
        self.release_held().await
    }

    /// Hands on, in stream order, the held events of every collection no longer paused.
    pub(super) async fn release_held(&self) -> Result<()> {
        let released = {
            let mut held = self.held.lock();
            if held.is_empty() {
                return Ok(());
            }
            held.release(|c| self.pauses.is_paused(c))
        };
        if released.is_empty() {
            return Ok(());
        }
        tracing::info!(
            events = released.len(),
            "applying the events held while paused"
        );
        for item in released {
            self.route(item).await?;
        }
        self.report_held(None);
        Ok(())
    }

    async fn route(&self, item: Item) -> Result<()> {
        if self.router.route(item).await {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "routing",
                "a writer stopped",
            ))
        }
    }

    fn report_held(&self, blocked: Option<String>) {
        let (events, bytes) = self.held.lock().summary();
        self.pauses.set_held(crate::control::pause::HeldSummary {
            events,
            bytes,
            blocked,
        });
    }
}
