//! What an operator paused: everything (`all`) and/or single collections. One shared
//! [`Pauses`] is read by the watcher on every event (atomics first, the lock only when
//! something is paused), changed by the API, stored in the checkpoint ([`PauseState`]), shown
//! in `/status` and the `paused{collection}` metric.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The `paused{collection}` label (and the word in `/status`) for "everything".
pub const ALL: &str = "all";

/// The persisted part (in the checkpoint): survives restarts, kill -9 included.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PauseState {
    /// Reading and applying stopped for every collection.
    #[serde(default)]
    pub all: bool,
    /// Applying stopped for these collections; the others flow.
    #[serde(default)]
    pub collections: BTreeSet<String>,
}

impl PauseState {
    pub fn is_empty(&self) -> bool {
        !self.all && self.collections.is_empty()
    }
}

/// A pause or resume named a collection the replicator does not replicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCollection(pub String);

/// What the watcher holds back for paused collections, for `/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldSummary {
    /// Events held per collection.
    pub events: BTreeMap<String, usize>,
    pub bytes: usize,
    /// Set while the held buffer is full (or a DDL waits) and reading stopped for everyone.
    pub blocked: Option<String>,
}

#[derive(Default)]
struct Inner {
    state: PauseState,
    /// Collections a single-collection pause may name (`None` until known).
    known: Option<BTreeSet<String>>,
    since: BTreeMap<String, SystemTime>,
    held: HeldSummary,
    /// An operator changed something in this process (a restored checkpoint must not undo it).
    touched: bool,
}

/// Shared pause state. Every change bumps a version the waiting watcher is woken by.
pub struct Pauses {
    inner: Mutex<Inner>,
    all: AtomicBool,
    any_collection: AtomicBool,
    version: watch::Sender<u64>,
    /// The newest version written to the checkpoint ([`crate::control::persist`]).
    stored: watch::Sender<u64>,
}

impl Default for Pauses {
    fn default() -> Self {
        Pauses {
            inner: Mutex::new(Inner::default()),
            all: AtomicBool::new(false),
            any_collection: AtomicBool::new(false),
            version: watch::channel(0).0,
            stored: watch::channel(0).0,
        }
    }
}

impl Pauses {
    /// The collections a single-collection pause may name (configured, or listed on the source).
    pub fn set_known<I: IntoIterator<Item = String>>(&self, collections: I) {
        self.inner.lock().known = Some(collections.into_iter().collect());
    }

    pub fn known(&self) -> Vec<String> {
        let inner = self.inner.lock();
        inner.known.iter().flatten().cloned().collect()
    }

    /// Pauses `collection`, or everything for `None`; `Ok(true)` when that changed anything.
    pub fn pause(&self, collection: Option<&str>) -> Result<bool, UnknownCollection> {
        self.change(collection, true)
    }

    /// Resumes `collection`, or ends every pause (all and each collection) for `None`.
    pub fn resume(&self, collection: Option<&str>) -> Result<bool, UnknownCollection> {
        self.change(collection, false)
    }

    fn change(&self, collection: Option<&str>, pause: bool) -> Result<bool, UnknownCollection> {
        let mut inner = self.inner.lock();
        let now = SystemTime::now();
        let changed = match collection {
            Some(c) => {
                if !inner.known.as_ref().is_some_and(|k| k.contains(c)) {
                    return Err(UnknownCollection(c.to_string()));
                }
                if pause {
                    inner.since.entry(c.to_string()).or_insert(now);
                    inner.state.collections.insert(c.to_string())
                } else {
                    inner.since.remove(c);
                    inner.state.collections.remove(c)
                }
            }
            None if pause => {
                inner.since.entry(ALL.to_string()).or_insert(now);
                !std::mem::replace(&mut inner.state.all, true)
            }
            None => {
                let was = !inner.state.is_empty();
                inner.state = PauseState::default();
                inner.since.clear();
                was
            }
        };
        inner.touched = true;
        self.publish(&inner);
        Ok(changed)
    }

    /// Adopts the state stored in the checkpoint at start, unless an operator already changed
    /// something in this process (then that wins and is stored at the next save).
    pub fn restore(&self, stored: &PauseState) {
        let mut inner = self.inner.lock();
        if inner.touched {
            return;
        }
        let now = SystemTime::now();
        if stored.all {
            inner.since.entry(ALL.to_string()).or_insert(now);
        }
        for c in &stored.collections {
            inner.since.entry(c.clone()).or_insert(now);
        }
        inner.state = stored.clone();
        self.publish(&inner);
    }

    fn publish(&self, inner: &Inner) {
        self.all.store(inner.state.all, Ordering::SeqCst);
        self.any_collection
            .store(!inner.state.collections.is_empty(), Ordering::SeqCst);
        self.version.send_modify(|v| *v += 1);
    }

    /// When the pause of `label` (`all` or a collection) in effect began.
    pub fn since(&self, label: &str) -> Option<SystemTime> {
        let inner = self.inner.lock();
        let paused = if label == ALL {
            inner.state.all
        } else {
            inner.state.collections.contains(label)
        };
        paused.then(|| inner.since.get(label).copied()).flatten()
    }

    pub fn snapshot(&self) -> PauseState {
        self.inner.lock().state.clone()
    }

    /// Everything paused: the watcher reads nothing more.
    pub fn all(&self) -> bool {
        self.all.load(Ordering::SeqCst)
    }

    /// Any pause in effect (stall detection stands down: a paused watermark is intended).
    pub fn any(&self) -> bool {
        self.all() || self.any_collection.load(Ordering::SeqCst)
    }

    /// Whether events of `collection` are held back (cheap when nothing is paused).
    pub fn is_paused(&self, collection: &str) -> bool {
        self.any_collection.load(Ordering::SeqCst)
            && self.inner.lock().state.collections.contains(collection)
    }

    /// Wakes on every change (pause, resume, restore).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Waits until `still` is false (re-checked on every change) or `stop`; `false` on stop.
    pub async fn wait_while(
        &self,
        still: impl Fn(&Pauses) -> bool,
        stop: &CancellationToken,
    ) -> bool {
        let mut changes = self.subscribe();
        while still(self) {
            tokio::select! {
                r = changes.changed() => if r.is_err() { return !stop.is_cancelled() },
                _ = stop.cancelled() => return false,
            }
        }
        true
    }

    /// The current version (bumped by every change).
    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    /// The checkpoint now holds the state of `version`.
    pub fn mark_stored(&self, version: u64) {
        self.stored.send_if_modified(|v| {
            let newer = version > *v;
            if newer {
                *v = version;
            }
            newer
        });
    }

    /// Waits up to `limit` until the checkpoint holds `version` (or a later one).
    pub async fn wait_stored(&self, version: u64, limit: std::time::Duration) -> bool {
        let mut rx = self.stored.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// What the watcher holds for paused collections (it reports after each change).
    pub fn set_held(&self, held: HeldSummary) {
        self.inner.lock().held = held;
    }

    /// `paused` in `/status`: what is paused since when, and what is held back.
    pub fn to_json(&self) -> Value {
        let inner = self.inner.lock();
        let since = |k: &str| {
            inner
                .since
                .get(k)
                .map(|t| crate::ops::status::rfc3339_of(*t))
        };
        let collections: BTreeMap<&str, Value> = inner
            .state
            .collections
            .iter()
            .map(|c| {
                let held = inner.held.events.get(c).copied().unwrap_or(0);
                (
                    c.as_str(),
                    json!({ "since": since(c), "held_events": held }),
                )
            })
            .collect();
        json!({
            "all": inner.state.all,
            "all_since": if inner.state.all { since(ALL) } else { None },
            "collections": collections,
            "held_bytes": inner.held.bytes,
            "blocked": inner.held.blocked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses() -> Pauses {
        let p = Pauses::default();
        p.set_known(["orders".to_string(), "items".to_string()]);
        p
    }

    #[test]
    fn pause_one_collection_leaves_the_others_flowing() {
        let p = pauses();
        assert_eq!(p.pause(Some("orders")), Ok(true));
        assert!(p.is_paused("orders") && !p.is_paused("items") && !p.all() && p.any());
        assert_eq!(p.pause(Some("orders")), Ok(false), "already paused");
        assert_eq!(p.resume(Some("orders")), Ok(true));
        assert!(!p.any());
    }

    #[test]
    fn unknown_collections_are_refused_by_name_and_change_nothing() {
        let p = pauses();
        assert_eq!(
            p.pause(Some("ordres")),
            Err(UnknownCollection("ordres".into()))
        );
        assert_eq!(p.snapshot(), PauseState::default());
        assert!(
            Pauses::default().pause(Some("orders")).is_err(),
            "nothing known yet"
        );
    }

    #[test]
    fn resume_without_a_collection_ends_every_pause() {
        let p = pauses();
        p.pause(None).unwrap();
        p.pause(Some("items")).unwrap();
        assert!(p.all() && p.is_paused("items"));
        assert_eq!(p.resume(None), Ok(true));
        assert_eq!(p.snapshot(), PauseState::default());
        assert_eq!(p.resume(None), Ok(false));
    }

    #[test]
    fn restore_adopts_the_checkpoint_unless_an_operator_acted_first() {
        let stored = PauseState {
            all: true,
            collections: ["orders".to_string()].into(),
        };
        let p = pauses();
        p.restore(&stored);
        assert_eq!(p.snapshot(), stored);
        assert!(p.all() && p.is_paused("orders"));
        let q = pauses();
        q.pause(Some("items")).unwrap();
        q.restore(&stored);
        assert!(!q.all() && q.is_paused("items"), "the live request wins");
    }

    #[tokio::test]
    async fn wait_while_wakes_on_resume_and_on_stop() {
        let p = std::sync::Arc::new(pauses());
        p.pause(None).unwrap();
        let stop = CancellationToken::new();
        let (p2, s2) = (p.clone(), stop.clone());
        let waiter = tokio::spawn(async move { p2.wait_while(Pauses::all, &s2).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "still paused");
        p.resume(None).unwrap();
        assert!(waiter.await.unwrap(), "resumed");
        p.pause(None).unwrap();
        stop.cancel();
        assert!(!p.wait_while(Pauses::all, &stop).await, "stopped");
    }
}
