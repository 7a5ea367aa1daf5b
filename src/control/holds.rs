//! Destructive changes held for an operator (`[apply.hold]`, issue 14): which collections are
//! held, since when and why, and the operator's decisions waiting for the watcher. One shared
//! [`Holds`] is written by the watcher ([`crate::tail::hold_gate`]) and the control API
//! (`GET /api/v1/held`, `POST /api/v1/held/{release,discard}`), and kept in the checkpoint
//! ([`HoldState`]) so a hold survives restarts, kill -9 included.
//!
//! Not to be confused with [`crate::control::held`]: the events of *paused* collections.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Why a collection is held.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// A drop (or one of a `dropDatabase`'s drops), with `apply.hold.drops = true`.
    Drop,
    /// More deletes within a minute than `apply.hold.deletes_per_minute`.
    Deletes,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Drop => "drop",
            HoldKind::Deletes => "deletes",
        }
    }
}

/// One held collection as the checkpoint keeps it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct HoldRecord {
    pub kind: HoldKind,
    /// When the hold began (ms since the epoch, this host's clock).
    pub since_ms: i64,
}

/// The persisted part: held collection -> why and since when.
pub type HoldState = BTreeMap<String, HoldRecord>;

/// What an operator decided for a held collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply everything held, in order.
    Release,
    /// Skip the held destructive events (the backup keeps its data), apply the rest in order.
    Discard,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Release => "released",
            Decision::Discard => "discarded",
        }
    }
}

/// A release or discard named a collection that is not held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHeld(pub String);

#[derive(Default)]
struct Inner {
    state: HoldState,
    /// Events held now per collection (not persisted: a restart re-reads and re-holds them).
    counts: BTreeMap<String, usize>,
    requests: BTreeMap<String, Decision>,
}

/// Shared hold state; every change bumps a version the watcher and waiting requests wake on.
pub struct Holds {
    inner: Mutex<Inner>,
    any: AtomicBool,
    version: watch::Sender<u64>,
}

impl Default for Holds {
    fn default() -> Self {
        Holds {
            inner: Mutex::new(Inner::default()),
            any: AtomicBool::new(false),
            version: watch::channel(0).0,
        }
    }
}

impl Holds {
    /// Whether `collection`'s events wait (cheap while nothing is held).
    pub fn is_held(&self, collection: &str) -> bool {
        self.any() && self.inner.lock().state.contains_key(collection)
    }

    /// Anything held (stall detection stands down: a held watermark is intended).
    pub fn any(&self) -> bool {
        self.any.load(Ordering::SeqCst)
    }

    /// Starts holding `collection`; `false` when it was held already.
    pub fn hold(&self, collection: &str, kind: HoldKind, now_ms: i64) -> bool {
        let mut inner = self.inner.lock();
        if inner.state.contains_key(collection) {
            return false;
        }
        let record = HoldRecord {
            kind,
            since_ms: now_ms,
        };
        inner.state.insert(collection.to_string(), record);
        self.publish(&inner);
        true
    }

    /// Adopts the checkpoint's holds at start (kept alongside any this process began).
    pub fn restore(&self, stored: &HoldState) {
        let mut inner = self.inner.lock();
        for (c, r) in stored {
            inner.state.entry(c.clone()).or_insert(*r);
        }
        self.publish(&inner);
    }

    /// The events the watcher holds now, per collection.
    pub fn set_counts(&self, counts: BTreeMap<String, usize>) {
        self.inner.lock().counts = counts;
    }

    /// Events held in all, for `held_changes`.
    pub fn total(&self) -> usize {
        self.inner.lock().counts.values().sum()
    }

    /// Records an operator's decision for the watcher to carry out.
    pub fn request(&self, collection: &str, decision: Decision) -> Result<(), NotHeld> {
        let mut inner = self.inner.lock();
        if !inner.state.contains_key(collection) {
            return Err(NotHeld(collection.to_string()));
        }
        inner.requests.insert(collection.to_string(), decision);
        self.publish(&inner);
        Ok(())
    }

    /// The decisions waiting, oldest collection name first (the watcher takes them).
    pub fn take_requests(&self) -> Vec<(String, Decision)> {
        if !self.any() {
            return Vec::new();
        }
        std::mem::take(&mut self.inner.lock().requests)
            .into_iter()
            .collect()
    }

    /// `collection` was released or discarded: it flows again.
    pub fn finish(&self, collection: &str) {
        let mut inner = self.inner.lock();
        inner.state.remove(collection);
        inner.counts.remove(collection);
        inner.requests.remove(collection);
        self.publish(&inner);
    }

    /// Ends every hold at once (history lost: the held events are gone, and the re-copy kept
    /// the held collections as a discard would).
    pub fn end_all(&self) {
        let mut inner = self.inner.lock();
        inner.state.clear();
        inner.counts.clear();
        inner.requests.clear();
        self.publish(&inner);
    }

    pub fn snapshot(&self) -> HoldState {
        self.inner.lock().state.clone()
    }

    fn publish(&self, inner: &Inner) {
        self.any.store(!inner.state.is_empty(), Ordering::SeqCst);
        self.version.send_modify(|v| *v += 1);
    }

    /// Wakes on every change (hold, request, finish).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Waits up to `limit` until `collection` is no longer held (the watcher carried out the
    /// decision); `false` on timeout.
    pub async fn wait_finished(&self, collection: &str, limit: Duration) -> bool {
        let mut rx = self.subscribe();
        let done = rx.wait_for(|_| !self.inner.lock().state.contains_key(collection));
        tokio::time::timeout(limit, done)
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// `GET /api/v1/held`: collection, kind, events held, since (no document values).
    pub fn to_json(&self) -> Value {
        let inner = self.inner.lock();
        let held: Vec<Value> = inner
            .state
            .iter()
            .map(|(c, r)| {
                let since = bson::DateTime::from_millis(r.since_ms)
                    .try_to_rfc3339_string()
                    .unwrap_or_default();
                json!({
                    "collection": c,
                    "kind": r.kind.as_str(),
                    "count": inner.counts.get(c).copied().unwrap_or(0),
                    "since": since,
                    "decision": inner.requests.get(c).map(|d| d.as_str()),
                })
            })
            .collect();
        json!({ "held": held })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_lasts_until_finished_and_requests_need_a_held_collection() {
        let h = Holds::default();
        assert!(!h.any() && !h.is_held("orders"));
        assert_eq!(
            h.request("orders", Decision::Release),
            Err(NotHeld("orders".into()))
        );
        assert!(h.hold("orders", HoldKind::Deletes, 1_000));
        assert!(!h.hold("orders", HoldKind::Drop, 2_000), "held already");
        assert!(h.is_held("orders") && !h.is_held("items"));
        h.set_counts([("orders".to_string(), 7)].into());
        let listed = h.to_json();
        assert_eq!(listed["held"][0]["kind"], "deletes");
        assert_eq!(listed["held"][0]["count"], 7);
        assert_eq!(h.request("orders", Decision::Discard), Ok(()));
        assert_eq!(
            h.take_requests(),
            vec![("orders".to_string(), Decision::Discard)]
        );
        assert!(h.take_requests().is_empty(), "taken once");
        assert!(h.is_held("orders"), "held until the watcher finished");
        h.finish("orders");
        assert!(!h.any() && h.total() == 0);
    }

    #[test]
    fn restore_adopts_the_checkpoint_and_keeps_the_first_reason() {
        let h = Holds::default();
        h.hold("items", HoldKind::Drop, 5);
        let stored: HoldState = [
            (
                "orders".to_string(),
                HoldRecord {
                    kind: HoldKind::Deletes,
                    since_ms: 1,
                },
            ),
            (
                "items".to_string(),
                HoldRecord {
                    kind: HoldKind::Deletes,
                    since_ms: 2,
                },
            ),
        ]
        .into();
        h.restore(&stored);
        let snap = h.snapshot();
        assert_eq!(snap["orders"].kind, HoldKind::Deletes);
        assert_eq!(snap["items"].kind, HoldKind::Drop, "already held here");
        let back: HoldState = bson::from_document(bson::to_document(&snap).unwrap()).unwrap();
        assert_eq!(back, snap, "round-trips through the checkpoint's BSON");
    }

    #[tokio::test]
    async fn wait_finished_wakes_when_the_watcher_finishes() {
        let h = std::sync::Arc::new(Holds::default());
        h.hold("orders", HoldKind::Drop, 0);
        assert!(!h.wait_finished("orders", Duration::from_millis(20)).await);
        let h2 = h.clone();
        let waiter =
            tokio::spawn(async move { h2.wait_finished("orders", Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        h.finish("orders");
        assert!(waiter.await.unwrap());
    }
}
