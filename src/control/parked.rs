//! Documents the backup refused for good (`apply.on_refused = "park"`), set aside while every
//! other document flows. A parked document's later events are acknowledged without being
//! applied and only counted: a retry re-reads the current document from the source (like a
//! fetch), which covers all of them. The entries travel in every checkpoint save, read after
//! the watermark, so a checkpoint past a parked document's events always carries its entry.
//! Pure logic; the writer of the document's partition does the I/O.

use crate::config::OnRefused;
use crate::source::translate::DocKey;
use bson::{Bson, DateTime, Document};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// First automatic retry after parking; doubles per failed attempt up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(10);
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// One parked document as the checkpoint keeps it (no field values: the key and a redacted
/// reason only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ParkedEntry {
    pub collection: String,
    /// The document key (`_id`, plus shard key fields when the source is sharded).
    pub key: Document,
    pub code: Option<i32>,
    pub reason: String,
    pub first_seen: DateTime,
    pub last_seen: DateTime,
    pub attempts: u64,
    /// Events that arrived after the refusal (acknowledged, covered by the retry's re-read).
    pub waiting: u64,
}

#[derive(Debug)]
struct Slot {
    entry: ParkedEntry,
    next_retry: Instant,
}

/// Which entries a retry or a skip means.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    All,
    One { collection: String, id: Bson },
}

/// The registry (one per process, in [`crate::ops::status::Status`]).
#[derive(Debug)]
pub struct Parked {
    slots: BTreeMap<(String, DocKey), Slot>,
    mode: OnRefused,
    max: usize,
    /// Documents an operator skipped: known differences for `verify`.
    skipped: crate::control::skipped::Skipped,
    /// A skip happened since the last checkpoint save (which must then save even when no
    /// event moved the watermark).
    unsaved_skip: bool,
}

impl Default for Parked {
    fn default() -> Self {
        Parked {
            slots: BTreeMap::new(),
            mode: OnRefused::Park,
            max: crate::config::defaults::APPLY_MAX_PARKED_DOCUMENTS,
            skipped: Default::default(),
            unsaved_skip: false,
        }
    }
}

/// The delay before the automatic retry that follows `attempts` failed ones.
pub fn retry_delay(attempts: u64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16) as u32;
    (FIRST_RETRY_DELAY * 2u32.pow(doublings)).min(MAX_RETRY_DELAY)
}

impl Parked {
    pub fn configure(&mut self, mode: OnRefused, max: usize) {
        self.mode = mode;
        self.max = max;
    }

    /// True when refused documents are parked (else the run stops, as before).
    pub fn parking(&self) -> bool {
        self.mode == OnRefused::Park
    }

    /// Adopts the entries of a checkpoint (first automatic retry soon after the start).
    pub fn restore(&mut self, entries: &[ParkedEntry], now: Instant) {
        self.slots = entries
            .iter()
            .map(|e| {
                let slot = Slot {
                    entry: e.clone(),
                    next_retry: now + FIRST_RETRY_DELAY,
                };
                ((e.collection.clone(), DocKey::of(&e.key)), slot)
            })
            .collect();
    }

    /// What the checkpoint stores.
    pub fn entries(&self) -> Vec<ParkedEntry> {
        self.slots.values().map(|s| s.entry.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The skipped documents (kept in the checkpoint beside the parked ones).
    pub fn skipped(&mut self) -> &mut crate::control::skipped::Skipped {
        &mut self.skipped
    }

    /// A new write of `(collection, key)` ends its exception ([`Skipped::written`]); the next
    /// checkpoint tick saves the shorter list even when the watermark did not move (a resync
    /// rewrite is no stream event), so a `verify` reading the checkpoint no longer counts that
    /// document as known.
    ///
    /// [`Skipped::written`]: crate::control::skipped::Skipped::written
    pub fn end_skip(&mut self, collection: &str, key: &DocKey) -> bool {
        let ended = self.skipped.written(collection, key);
        self.unsaved_skip |= ended;
        ended
    }

    /// A resync of the whole of `collection` ends its exceptions (saved as [`Self::end_skip`]).
    pub fn end_skips_of(&mut self, collection: &str) {
        self.unsaved_skip |= self.skipped.resynced(collection);
    }

    /// True once after a skip: the next checkpoint tick saves.
    pub fn take_unsaved_skip(&mut self) -> bool {
        std::mem::take(&mut self.unsaved_skip)
    }

    /// Whether `(collection, key)` is parked or skipped: a known difference
    /// ([`crate::verify`] reports it, never repairs around it).
    pub fn knows(&self, collection: &str, key: &Document) -> bool {
        let k = (collection.to_string(), DocKey::of(key));
        self.slots.contains_key(&k) || self.skipped.contains(&k)
    }

    /// When `(collection, key)` is parked, counts one more waiting event and returns true.
    pub fn wait_behind(&mut self, collection: &str, key: &DocKey) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        match self.slots.get_mut(&(collection.to_string(), key.clone())) {
            Some(slot) => {
                slot.entry.waiting += 1;
                true
            }
            None => false,
        }
    }

    /// Parks `(collection, key)` after a refusal, or counts one more failed attempt when it is
    /// parked already. A new entry past the bound is refused with the message the run stops on.
    pub fn refused(
        &mut self,
        collection: &str,
        key: &Document,
        code: Option<i32>,
        reason: &str,
        now: Instant,
    ) -> Result<(), String> {
        let at = DateTime::now();
        let id = (collection.to_string(), DocKey::of(key));
        if let Some(slot) = self.slots.get_mut(&id) {
            let e = &mut slot.entry;
            e.attempts += 1;
            e.last_seen = at;
            e.code = code;
            e.reason = reason.to_string();
            slot.next_retry = now + retry_delay(e.attempts);
            return Ok(());
        }
        if self.slots.len() >= self.max {
            return Err(format!(
                "the backup refused {collection} _id {} ({reason}) and {} documents are parked already, the most apply.max_parked_documents allows: fix the backup (GET /api/v1/failed lists them) or raise the limit",
                shown_id(key),
                self.slots.len()
            ));
        }
        let entry = ParkedEntry {
            collection: collection.to_string(),
            key: key.clone(),
            code,
            reason: reason.to_string(),
            first_seen: at,
            last_seen: at,
            attempts: 1,
            waiting: 0,
        };
        let slot = Slot {
            entry,
            next_retry: now + retry_delay(1),
        };
        self.slots.insert(id, slot);
        Ok(())
    }

    /// Forgets `(collection, key)` (healed by a retry).
    pub fn remove(&mut self, collection: &str, key: &Document) {
        self.slots
            .remove(&(collection.to_string(), DocKey::of(key)));
    }

    /// The entries due for a retry at `now` among those `mine` accepts (a writer's partition).
    pub fn due(
        &self,
        now: Instant,
        mine: impl Fn(&str, &Document) -> bool,
    ) -> Vec<(String, Document)> {
        self.slots
            .values()
            .filter(|s| s.next_retry <= now && mine(&s.entry.collection, &s.entry.key))
            .map(|s| (s.entry.collection.clone(), s.entry.key.clone()))
            .collect()
    }

    /// Makes the selected entries due now; returns how many.
    pub fn request_retry(&mut self, which: &Selector, now: Instant) -> usize {
        let mut n = 0;
        for slot in self.slots.values_mut().filter(|s| matches(which, &s.entry)) {
            slot.next_retry = now;
            n += 1;
        }
        n
    }

    /// Drops the selected entries (their document stays as the backup has it, a known
    /// difference for `verify` until it is written again); returns how many.
    pub fn skip(&mut self, which: &Selector) -> usize {
        let before = self.slots.len();
        let skipped = &mut self.skipped;
        self.slots.retain(|_, s| {
            let keep = !matches(which, &s.entry);
            if !keep {
                skipped.add(&s.entry);
                self.unsaved_skip = true;
            }
            keep
        });
        before - self.slots.len()
    }

    /// `GET /api/v1/failed`: `_id`s as canonical Extended JSON, no field values.
    pub fn to_json(&self) -> Value {
        let docs: Vec<Value> = self
            .slots
            .values()
            .map(|s| {
                let e = &s.entry;
                json!({
                    "collection": e.collection,
                    "id": e.key.get("_id").cloned().unwrap_or(Bson::Null).into_canonical_extjson(),
                    "code": e.code,
                    "reason": e.reason,
                    "first_seen": e.first_seen.try_to_rfc3339_string().ok(),
                    "last_seen": e.last_seen.try_to_rfc3339_string().ok(),
                    "attempts": e.attempts,
                    "events_waiting": e.waiting,
                })
            })
            .collect();
        json!({ "count": docs.len(), "documents": docs })
    }
}

fn matches(which: &Selector, e: &ParkedEntry) -> bool {
    match which {
        Selector::All => true,
        Selector::One { collection, id } => {
            &e.collection == collection && e.key.get("_id").map(|v| same_id(v, id)).unwrap_or(false)
        }
    }
}

/// `_id`s compare by their canonical Extended JSON (types included).
fn same_id(a: &Bson, b: &Bson) -> bool {
    a.clone().into_canonical_extjson() == b.clone().into_canonical_extjson()
}

fn shown_id(key: &Document) -> String {
    key.get("_id")
        .map(|v| v.clone().into_canonical_extjson().to_string())
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
#[path = "parked_tests.rs"]
mod tests;
