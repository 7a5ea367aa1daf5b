//! The event bus: every event gets an increasing id and goes into a bounded ring (what a
//! reconnecting stream resumes from), a broadcast channel (live streams) and each webhook's
//! own bounded queue. Emitting never waits: a slow reader loses old events, which are counted.
//! Events carry names and counts only, never document values or connection strings.

use crate::error::ErrorKind;
use crate::ops::labels::Phase;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events kept for `Last-Event-ID` resumption.
pub const RING: usize = 1024;
/// Events a live stream may fall behind before it loses the oldest.
const CHANNEL: usize = 256;
/// `lag_below` fires once the lag is back under this share of `notify.lag_threshold_seconds`
/// (hysteresis: a lag hovering at the threshold does not flap).
pub const LAG_BELOW_RATIO: f64 = 0.5;

/// One event: `{id, type, at, data}` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub kind: &'static str,
    /// RFC 3339, UTC.
    pub at: String,
    pub data: Value,
}

impl Event {
    pub fn to_json(&self) -> Value {
        json!({ "id": self.id, "type": self.kind, "at": self.at, "data": self.data })
    }
}

/// Something that takes each event without waiting (a webhook's queue).
pub trait Sink: Send + Sync {
    fn offer(&self, event: &Arc<Event>);
}

/// Edge detectors for the level signals (stall, lag).
#[derive(Default)]
struct Levels {
    stalled: bool,
    lag_above: bool,
}

pub struct Bus {
    ring: Mutex<(u64, VecDeque<Arc<Event>>)>,
    tx: broadcast::Sender<Arc<Event>>,
    sinks: Mutex<Vec<Arc<dyn Sink>>>,
    levels: Mutex<Levels>,
    /// `notify.lag_threshold_seconds` as f64 bits (0: no lag events).
    lag_threshold: AtomicU64,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            ring: Mutex::new((0, VecDeque::with_capacity(RING))),
            tx: broadcast::channel(CHANNEL).0,
            sinks: Mutex::default(),
            levels: Mutex::default(),
            lag_threshold: AtomicU64::new(0f64.to_bits()),
        }
    }
}

impl Bus {
    /// Publishes `kind` with `data`; returns its id.
    pub fn emit(&self, kind: &'static str, data: Value) -> u64 {
        let at = bson::DateTime::now()
            .try_to_rfc3339_string()
            .unwrap_or_default();
        let event = {
            let mut ring = self.ring.lock();
            ring.0 += 1;
            let event = Arc::new(Event {
                id: ring.0,
                kind,
                at,
                data,
            });
            if ring.1.len() == RING {
                ring.1.pop_front();
            }
            ring.1.push_back(event.clone());
            // Sent under the lock so a subscriber taken under it sees every later id, and
            // every sink gets events in id order (an offer is a push onto a queue).
            let _ = self.tx.send(event.clone());
            for sink in self.sinks.lock().iter() {
                sink.offer(&event);
            }
            event
        };
        event.id
    }

    /// Kept events with an id above `after`, oldest first, and a receiver for every later one
    /// (taken together, so nothing falls between them).
    pub fn resume(&self, after: u64) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let ring = self.ring.lock();
        let kept = ring.1.iter().filter(|e| e.id > after).cloned().collect();
        (kept, self.tx.subscribe())
    }

    pub fn attach(&self, sink: Arc<dyn Sink>) {
        self.sinks.lock().push(sink);
    }

    pub fn set_lag_threshold(&self, seconds: f64) {
        self.lag_threshold
            .store(seconds.to_bits(), Ordering::Relaxed);
    }

    /// The health refresh: `stalled`/`recovered` on a change of `stalled`, `lag_above` once the
    /// lag passes the threshold and `lag_below` once it is under [`LAG_BELOW_RATIO`] of it.
    pub fn levels(&self, lag_seconds: f64, stalled: bool) {
        let threshold = f64::from_bits(self.lag_threshold.load(Ordering::Relaxed));
        let mut fire: Vec<(&'static str, Value)> = Vec::new();
        {
            let mut l = self.levels.lock();
            if stalled != l.stalled {
                l.stalled = stalled;
                let kind = if stalled { "stalled" } else { "recovered" };
                fire.push((kind, json!({ "lag_seconds": lag_seconds })));
            }
            if threshold > 0.0 {
                let data = json!({ "lag_seconds": lag_seconds, "threshold_seconds": threshold });
                if !l.lag_above && lag_seconds > threshold {
                    l.lag_above = true;
                    fire.push(("lag_above", data));
                } else if l.lag_above && lag_seconds < threshold * LAG_BELOW_RATIO {
                    l.lag_above = false;
                    fire.push(("lag_below", data));
                }
            }
        }
        for (kind, data) in fire {
            self.emit(kind, data);
        }
    }
}

/// The events a phase change means: `phase_changed`, and `copy_finished` / `resync_started` /
/// `resync_finished` / `shutdown` where the change says so.
pub fn phase_changed(bus: &Bus, from: Phase, to: Phase) {
    bus.emit("phase_changed", json!({ "from": from, "to": to }));
    if from == Phase::Copying {
        bus.emit("copy_finished", json!({ "next": to }));
    }
    match to {
        Phase::Resyncing => {
            bus.emit("resync_started", json!({ "collection": null }));
        }
        Phase::Stopped => {
            bus.emit("shutdown", json!({}));
        }
        _ => {}
    }
}

/// A resync of `collection` finished with `counts` (`[("copied", n), ...]`).
pub fn resync_finished(bus: &Bus, collection: &str, counts: &[(&str, u64)]) {
    let counts: serde_json::Map<String, Value> = counts
        .iter()
        .map(|(k, n)| (k.to_string(), (*n).into()))
        .collect();
    bus.emit(
        "resync_finished",
        json!({ "collection": collection, "counts": counts }),
    );
}

/// Errors that are events of their own: a lost history, a duplicate key (a unique index
/// conflict). Only the kind and the error's origin, never its message (it may quote values).
pub fn error_seen(bus: &Bus, err: &crate::error::Error) {
    let kind = match err.kind {
        ErrorKind::HistoryLost => "history_lost",
        ErrorKind::DuplicateKey => "conflict_detected",
        _ => return,
    };
    bus.emit(kind, json!({ "kind": err.metric_kind() }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(bus: &Bus) -> Vec<&'static str> {
        bus.resume(0).0.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn ids_increase_and_the_ring_keeps_the_newest() {
        let bus = Bus::default();
        for _ in 0..RING + 5 {
            bus.emit("progress", json!({}));
        }
        let (kept, _) = bus.resume(0);
        assert_eq!(kept.len(), RING);
        assert_eq!(kept[0].id, 6);
        assert_eq!(kept.last().unwrap().id, (RING + 5) as u64);
        assert_eq!(bus.resume(RING as u64 + 3).0.len(), 2);
    }

    #[test]
    fn lag_events_have_hysteresis() {
        let bus = Bus::default();
        bus.set_lag_threshold(10.0);
        for lag in [1.0, 11.0, 12.0, 9.0, 6.0, 11.0, 4.0, 3.0, 20.0] {
            bus.levels(lag, false);
        }
        assert_eq!(kinds(&bus), ["lag_above", "lag_below", "lag_above"]);
    }

    #[test]
    fn no_lag_events_without_a_threshold_and_stalls_fire_on_change() {
        let bus = Bus::default();
        for (lag, stalled) in [(500.0, false), (500.0, true), (1.0, true), (0.0, false)] {
            bus.levels(lag, stalled);
        }
        assert_eq!(kinds(&bus), ["stalled", "recovered"]);
    }

    #[tokio::test]
    async fn a_slow_reader_never_blocks_the_emitter_and_loses_the_oldest() {
        let bus = Bus::default();
        let (_, mut rx) = bus.resume(0);
        for _ in 0..CHANNEL * 4 {
            bus.emit("progress", json!({}));
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n as usize, CHANNEL * 3),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(rx.recv().await.unwrap().id, (CHANNEL * 3 + 1) as u64);
    }
}
