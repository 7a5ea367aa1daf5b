//! Sync's metric families, registered in the replicator's registry at start with every label
//! set at 0: `sync_events_total{direction, outcome}` and `sync_conflicts_open`.

use super::engine::{Direction, Outcome};
use prometheus::{IntCounterVec, IntGauge, Opts};

pub const SYNC_EVENTS_TOTAL: &str = "mongo_replicator_sync_events_total";
pub const SYNC_CONFLICTS_OPEN: &str = "mongo_replicator_sync_conflicts_open";

pub struct SyncMetrics {
    events: IntCounterVec,
    open: IntGauge,
}

impl SyncMetrics {
    pub fn register(metrics: &crate::ops::metrics::Metrics) -> SyncMetrics {
        let events = IntCounterVec::new(
            Opts::new(SYNC_EVENTS_TOTAL, "Two-way sync: changes seen per direction by outcome (applied, echo, agreed, conflict, blocked)."),
            &["direction", "outcome"],
        )
        .expect("valid metric");
        let open = IntGauge::new(
            SYNC_CONFLICTS_OPEN,
            "Two-way sync: conflicts waiting for a resolution.",
        )
        .expect("valid metric");
        // Registered once per process (a second registration is a programming error we ignore).
        let _ = metrics.registry().register(Box::new(events.clone()));
        let _ = metrics.registry().register(Box::new(open.clone()));
        for d in Direction::ALL {
            for o in Outcome::ALL {
                events.with_label_values(&[d.label(), o.as_str()]);
            }
        }
        SyncMetrics { events, open }
    }

    pub fn event(&self, dir: Direction, outcome: Outcome, n: u64) {
        self.events
            .with_label_values(&[dir.label(), outcome.as_str()])
            .inc_by(n);
    }

    pub fn set_open(&self, n: usize) {
        self.open.set(n as i64);
    }

    pub fn open_changed(&self, delta: i64) {
        self.open.add(delta);
    }

    pub fn open(&self) -> i64 {
        self.open.get()
    }
}
