//! Metric names in one place, registered once, pre-initialised for every known label set so the
//! first scrape shows every series. Updated per batch, never per event.
//!
//! The registry is private to the replicator (not the global default one), so tests can build as
//! many `Metrics` as they like and a scrape shows exactly what is listed in [`names`].

use crate::ops::labels::{Op, Phase, Side, ERROR_KINDS};
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::sync::Arc;

/// Every metric name, full (with the `mongo_replicator_` prefix). Dashboards, alerts and the
/// deploy tests refer to these; change a name here and `tests/deploy_*.rs` points at every file
/// that still uses the old one.
pub mod names {
    /// Common prefix of every metric.
    pub const PREFIX: &str = "mongo_replicator_";
    pub const EVENTS_APPLIED_TOTAL: &str = "mongo_replicator_events_applied_total";
    pub const EVENTS_RECEIVED_TOTAL: &str = "mongo_replicator_events_received_total";
    pub const LAG_SECONDS: &str = "mongo_replicator_lag_seconds";
    pub const CHECKPOINT_AGE_SECONDS: &str = "mongo_replicator_checkpoint_age_seconds";
    pub const APPLY_BATCH_SECONDS: &str = "mongo_replicator_apply_batch_seconds";
    pub const APPLY_BATCH_SIZE: &str = "mongo_replicator_apply_batch_size";
    pub const COPY_DOCUMENTS_TOTAL: &str = "mongo_replicator_copy_documents_total";
    pub const ERRORS_TOTAL: &str = "mongo_replicator_errors_total";
    pub const RETRIES_TOTAL: &str = "mongo_replicator_retries_total";
    pub const UP: &str = "mongo_replicator_up";
    pub const BUILD_INFO: &str = "mongo_replicator_build_info";
    pub const STALLED: &str = "mongo_replicator_stalled";
    pub const STREAM_OPEN: &str = "mongo_replicator_stream_open";
    pub const PHASE: &str = "mongo_replicator_phase";
    pub const PAUSED: &str = "mongo_replicator_paused";
    pub const PARKED_DOCUMENTS: &str = "mongo_replicator_parked_documents";
    pub const PAUSE_STARTED_TIMESTAMP_SECONDS: &str =
        "mongo_replicator_pause_started_timestamp_seconds";
    pub const MAX_PAUSE_SECONDS: &str = "mongo_replicator_max_pause_seconds";
    pub const CONTROL_REQUESTS_TOTAL: &str = "mongo_replicator_control_requests_total";
    pub const LEADER: &str = "mongo_replicator_leader";
    pub const LEADER_CHANGES_TOTAL: &str = "mongo_replicator_leader_changes_total";
    pub const NOTIFY_DELIVERIES_TOTAL: &str = "mongo_replicator_notify_deliveries_total";
    pub const NOTIFY_EVENTS_LOST_TOTAL: &str = "mongo_replicator_notify_events_lost_total";
    pub const APPLY_DELAY_SECONDS: &str = "mongo_replicator_apply_delay_seconds";
    pub const HELD_CHANGES: &str = "mongo_replicator_held_changes";
}

/// Buckets of `apply_batch_seconds`: 1 ms to 30 s (a bulk write slower than that is an incident).
const BATCH_SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of `apply_batch_size`: up to 10000 operations (above the largest sensible batch).
const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// The replicator's metrics. Cheap to share (`Arc`); every method is thread-safe.
pub struct Metrics {
    registry: Registry,
    events_applied: IntCounterVec,
    events_received: IntCounter,
    lag_seconds: Gauge,
    checkpoint_age_seconds: Gauge,
    apply_batch_seconds: Histogram,
    apply_batch_size: Histogram,
    copy_documents: IntCounterVec,
    errors: IntCounterVec,
    retries: IntCounter,
    up: IntGaugeVec,
    stalled: IntGauge,
    stream_open: IntGauge,
    phase: IntGaugeVec,
    paused: IntGaugeVec,
    pause_started: IntGaugeVec,
    max_pause_seconds: IntGauge,
    parked_documents: IntGauge,
    control_requests: IntCounterVec,
    leader: IntGauge,
    leader_changes: IntCounter,
    notify_deliveries: IntCounterVec,
    notify_events_lost: IntCounter,
    /// The continuous verifier's families ([`crate::verify::metrics`]).
    pub verify: crate::verify::metrics::VerifyMetrics,
    apply_delay_seconds: IntGauge,
    held_changes: IntGauge,
}

/// The `result` label of `notify_deliveries_total`: delivered, one retry, given up after
/// `notify.max_retry_seconds` (or refused with a 4xx), dropped from a full queue.
pub const DELIVERY_RESULTS: [&str; 4] = ["ok", "retried", "failed", "dropped"];

impl Metrics {
    /// The registry, for features registering their own families (two-way sync).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Builds and registers every metric, with every known label set at 0 (`build_info` at 1,
    /// `phase{phase="starting"}` at 1).
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let m = Metrics {
            events_applied: counter_vec(&registry, names::EVENTS_APPLIED_TOTAL, "Change events applied to the target, by operation.", "op"),
            events_received: register(&registry, IntCounter::new(names::EVENTS_RECEIVED_TOTAL, "Change events received from the source change stream.")),
            lag_seconds: register(&registry, Gauge::new(names::LAG_SECONDS, "Seconds the backup is behind the source (since the source write of the oldest unapplied event) beyond apply.delay_seconds; 0 only when caught up or within the delay.")),
            checkpoint_age_seconds: register(&registry, Gauge::new(names::CHECKPOINT_AGE_SECONDS, "Seconds since the checkpoint (resume token) was last persisted.")),
            apply_batch_seconds: register(
                &registry,
                Histogram::with_opts(HistogramOpts::new(names::APPLY_BATCH_SECONDS, "Duration of one applied batch (bulk writes to the target).").buckets(BATCH_SECONDS_BUCKETS.to_vec())),
            ),
            apply_batch_size: register(
                &registry,
                Histogram::with_opts(HistogramOpts::new(names::APPLY_BATCH_SIZE, "Operations in one applied batch.").buckets(BATCH_SIZE_BUCKETS.to_vec())),
            ),
            copy_documents: counter_vec(&registry, names::COPY_DOCUMENTS_TOTAL, "Documents written by the initial copy, by collection.", "collection"),
            errors: counter_vec(&registry, names::ERRORS_TOTAL, "Errors seen, by kind (retried ones included).", "kind"),
            retries: register(&registry, IntCounter::new(names::RETRIES_TOTAL, "Operations retried after a transient error.")),
            up: gauge_vec(&registry, names::UP, "1 when the side (source or target) answered its last operation.", "side"),
            stalled: register(&registry, IntGauge::new(names::STALLED, "1 while events arrive but the checkpoint watermark has not advanced for the stall threshold.")),
            stream_open: register(&registry, IntGauge::new(names::STREAM_OPEN, "1 while the source change stream is open.")),
            phase: gauge_vec(&registry, names::PHASE, "1 for the current phase (starting, copying, tailing, resyncing, stopped).", "phase"),
            paused: gauge_vec(&registry, names::PAUSED, "1 while replication is paused by an operator: collection=\"all\" for everything, else one configured collection.", "collection"),
            pause_started: gauge_vec(&registry, names::PAUSE_STARTED_TIMESTAMP_SECONDS, "Unix time the pause in effect began (0 when not paused), same labels as paused: the age of a pause is time() minus it.", "collection"),
            max_pause_seconds: register(&registry, IntGauge::new(names::MAX_PAUSE_SECONDS, "alerts.max_pause in seconds: a pause older than this raises ReplicatorPausedTooLong.")),
            parked_documents: register(&registry, IntGauge::new(names::PARKED_DOCUMENTS, "Documents the backup refused for good, set aside while the others flow (GET /api/v1/failed).")),
            control_requests: register(
                &registry,
                IntCounterVec::new(Opts::new(names::CONTROL_REQUESTS_TOTAL, "Requests to /status and the control API, by route and result."), &["route", "result"]),
            ),
            leader: register(&registry, IntGauge::new(names::LEADER, "1 while this instance is the active one (it applies changes); 0 on an ha standby.")),
            leader_changes: register(&registry, IntCounter::new(names::LEADER_CHANGES_TOTAL, "Times this instance's ha role changed (became active, or stopped being active).")),
            notify_deliveries: counter_vec(&registry, names::NOTIFY_DELIVERIES_TOTAL, "Webhook deliveries by result: ok, retried (one per retry), failed (gave up or refused), dropped (queue full).", "result"),
            notify_events_lost: register(&registry, IntCounter::new(names::NOTIFY_EVENTS_LOST_TOTAL, "Events a slow GET /api/v1/events reader lost (it fell behind the bus and skipped the oldest).")),
            verify: crate::verify::metrics::VerifyMetrics::register(&registry),
            apply_delay_seconds: register(&registry, IntGauge::new(names::APPLY_DELAY_SECONDS, "apply.delay_seconds: events are applied no earlier than their source write plus this (lag_seconds counts beyond it).")),
            held_changes: register(&registry, IntGauge::new(names::HELD_CHANGES, "Change events held for an operator by apply.hold (GET /api/v1/held; release or discard).")),
            registry,
        };
        for result in DELIVERY_RESULTS {
            m.notify_deliveries.with_label_values(&[result]);
        }
        for op in Op::ALL {
            m.events_applied.with_label_values(&[op.as_str()]);
        }
        for kind in ERROR_KINDS {
            m.errors.with_label_values(&[kind]);
        }
        for side in Side::ALL {
            m.up.with_label_values(&[side.as_str()]).set(0);
        }
        m.set_phase(Phase::Starting);
        m.paused.with_label_values(&[crate::control::ALL]).set(0);
        m.pause_started
            .with_label_values(&[crate::control::ALL])
            .set(0);
        for route in crate::control::ROUTES {
            for result in crate::control::RESULTS {
                m.control_requests.with_label_values(&[route.path, result]);
            }
        }
        let build_info = gauge_vec(
            &m.registry,
            names::BUILD_INFO,
            "Always 1; the version label says which build runs.",
            "version",
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Arc::new(m)
    }

    /// Prometheus text exposition (format 0.0.4, see [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding our own well-formed families into a Vec cannot fail.
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encode metrics");
        String::from_utf8(out).expect("text exposition is UTF-8")
    }

    pub fn events_received(&self, n: u64) {
        self.events_received.inc_by(n);
    }

    /// One applied batch: `per_op` counts by op label, the batch's size and duration.
    pub fn batch_applied(&self, per_op: &[(Op, u64)], size: usize, seconds: f64) {
        for (op, n) in per_op {
            self.events_applied
                .with_label_values(&[op.as_str()])
                .inc_by(*n);
        }
        self.apply_batch_size.observe(size as f64);
        self.apply_batch_seconds.observe(seconds);
    }

    pub fn set_lag_seconds(&self, lag: f64) {
        self.lag_seconds.set(lag.max(0.0));
    }

    pub fn set_checkpoint_age_seconds(&self, age: f64) {
        self.checkpoint_age_seconds.set(age.max(0.0));
    }

    pub fn copy_documents(&self, collection: &str, n: u64) {
        self.copy_documents
            .with_label_values(&[collection])
            .inc_by(n);
    }

    /// Registers a collection label for `copy_documents_total` at 0 so it shows before the first batch.
    pub fn init_copy_collection(&self, collection: &str) {
        self.copy_documents.with_label_values(&[collection]);
    }

    pub fn error(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    pub fn retry(&self) {
        self.retries.inc();
    }

    pub fn set_up(&self, side: Side, up: bool) {
        self.up
            .with_label_values(&[side.as_str()])
            .set(i64::from(up));
    }

    /// 1 while events arrive but the watermark has not moved for the stall threshold.
    pub fn set_stalled(&self, stalled: bool) {
        self.stalled.set(i64::from(stalled));
    }

    /// 1 while the source change stream is open (0 during reconnects and before tailing starts).
    pub fn set_stream_open(&self, open: bool) {
        self.stream_open.set(i64::from(open));
    }

    /// Registers `paused{collection}` at 0 for each of `collections` (the known label set:
    /// `all` is always there), so every series shows from the first scrape.
    pub fn init_paused<'a>(&self, collections: impl IntoIterator<Item = &'a str>) {
        for c in collections {
            self.paused.with_label_values(&[c]);
            self.pause_started.with_label_values(&[c]);
        }
    }

    /// `paused{collection}`: only for a label already registered by [`Metrics::init_paused`]
    /// (the set stays bounded whatever a caller passes).
    pub fn set_paused(&self, collection: &str, paused: bool) {
        if self.paused_labels().iter().any(|l| l == collection) {
            self.paused
                .with_label_values(&[collection])
                .set(i64::from(paused));
        }
    }

    /// `pause_started_timestamp_seconds{collection}` (`None`: not paused), for a registered
    /// label only, like [`Metrics::set_paused`].
    pub fn set_pause_started(&self, collection: &str, since: Option<std::time::SystemTime>) {
        if self.paused_labels().iter().any(|l| l == collection) {
            let secs = since
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            self.pause_started
                .with_label_values(&[collection])
                .set(secs);
        }
    }

    /// `max_pause_seconds`: the configured `alerts.max_pause`.
    pub fn set_max_pause(&self, max: std::time::Duration) {
        self.max_pause_seconds
            .set(i64::try_from(max.as_secs()).unwrap_or(i64::MAX));
    }

    /// `apply_delay_seconds` (the configured delay).
    pub fn set_apply_delay_seconds(&self, seconds: u64) {
        self.apply_delay_seconds
            .set(i64::try_from(seconds).unwrap_or(i64::MAX));
    }

    /// `held_changes`: events held by `apply.hold` now.
    pub fn set_held_changes(&self, n: usize) {
        self.held_changes.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `parked_documents`.
    pub fn set_parked_documents(&self, n: usize) {
        self.parked_documents
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Every `paused{collection}` label registered, `all` included.
    pub fn paused_labels(&self) -> Vec<String> {
        use prometheus::core::Collector;
        self.paused
            .collect()
            .iter()
            .flat_map(|family| family.get_metric().iter())
            .flat_map(|m| m.get_label().iter().map(|l| l.value().to_string()))
            .collect()
    }

    /// One request to a protected route: `route` is a [`crate::control::ROUTES`] path.
    pub fn control_request(&self, route: &str, result: &str) {
        self.control_requests
            .with_label_values(&[route, result])
            .inc();
    }

    /// `leader`: 1 while this instance applies.
    pub fn set_leader(&self, active: bool) {
        self.leader.set(i64::from(active));
    }

    /// `leader_changes_total`: this instance's role changed.
    pub fn leader_changed(&self) {
        self.leader_changes.inc();
    }

    /// One webhook delivery outcome (one of [`DELIVERY_RESULTS`]).
    pub fn notify_delivery(&self, result: &str) {
        self.notify_deliveries.with_label_values(&[result]).inc();
    }

    /// `n` events a live stream reader lost by falling behind.
    pub fn notify_events_lost(&self, n: u64) {
        self.notify_events_lost.inc_by(n);
    }

    /// Sets the one-hot `phase{phase}` gauge (the same words as `/status`).
    pub fn set_phase(&self, phase: Phase) {
        for p in Phase::ALL {
            self.phase
                .with_label_values(&[p.as_str()])
                .set(i64::from(p == phase));
        }
    }
}

/// `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Registers a freshly built collector; names and help texts are constants, so failure is a bug.
fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    built: prometheus::Result<C>,
) -> C {
    let collector = built.expect("valid metric definition");
    registry
        .register(Box::new(collector.clone()))
        .expect("metric registered once");
    collector
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), &[label]),
    )
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntGaugeVec {
    register(registry, IntGaugeVec::new(Opts::new(name, help), &[label]))
}

#[cfg(test)]
mod tests;
