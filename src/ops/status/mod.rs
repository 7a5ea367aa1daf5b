//! The live state behind `/status` and `/readyz`, shared between the pipeline and the HTTP server.
//!
//! Only database names are ever handed to it, never connection strings, so nothing it renders can
//! leak a credential. Updated per batch like the metrics; a short mutex is plenty.

pub use crate::ops::labels::Phase;
use crate::ops::labels::{Op, Side};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Cheap to clone; internally synchronised.
#[derive(Clone)]
pub struct Status {
    inner: Arc<Mutex<Inner>>,
    /// What an operator paused (shared with the watcher and the control API).
    pauses: Arc<crate::control::Pauses>,
    /// Documents the backup refused for good (shared with the writers and the control API).
    parked: Arc<parking_lot::Mutex<crate::control::parked::Parked>>,
    /// Resync jobs (submitted by the control API, run by the tail).
    jobs: Arc<crate::control::jobs::Jobs>,
    /// This run and the previous ones (`GET /api/v1/runs`).
    runs: Arc<crate::history::RunLog>,
    /// Events for the live stream and webhooks (crate::notify).
    bus: Arc<crate::notify::Bus>,
    /// What the continuous verifier found ([`crate::verify`]).
    divergences: Arc<crate::verify::divergences::Divergences>,
    /// Recently applied keys for the continuous verifier (fed by the writers).
    recent: Arc<crate::verify::recent::Recent>,
    /// Destructive changes held for an operator (`apply.hold`).
    holds: Arc<crate::control::holds::Holds>,
    /// Two-way sync, when running (crate::sync).
    sync: Arc<crate::sync::Hub>,
    /// The change history the audit trail reads, while a tail with history on runs.
    changes: Arc<parking_lot::Mutex<Option<crate::history::audit::Source>>>,
}

struct Inner {
    phase: Phase,
    source_db: String,
    target_db: String,
    applied: BTreeMap<&'static str, u64>,
    last_cluster_time: Option<bson::Timestamp>,
    last_wall_time_ms: Option<i64>,
    lag_seconds: f64,
    last_checkpoint: Option<SystemTime>,
    last_error: Option<LastError>,
    source_up: bool,
    target_up: bool,
    stream_open: bool,
    stalled: bool,
    pending_indexes: Vec<String>,
    ha: Option<HaView>,
    /// Source documents per collection as the copy estimated them (the `progress` event).
    copy_totals: BTreeMap<String, u64>,
}

/// The `ha` lease as this instance last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaView {
    pub active: bool,
    /// `ha.name` of the instance holding the lease ("" while unknown).
    pub holder: String,
    pub epoch: i64,
    /// The last lease attempt reached the target.
    pub reachable: bool,
}

struct LastError {
    kind: String,
    message: String,
    at: SystemTime,
}

impl Status {
    pub fn new(source_db: &str, target_db: &str) -> Status {
        let applied = Op::ALL.iter().map(|op| (op.as_str(), 0)).collect();
        let inner = Inner {
            phase: Phase::Starting,
            source_db: source_db.to_string(),
            target_db: target_db.to_string(),
            applied,
            last_cluster_time: None,
            last_wall_time_ms: None,
            lag_seconds: 0.0,
            last_checkpoint: None,
            last_error: None,
            source_up: false,
            target_up: false,
            stream_open: false,
            stalled: false,
            pending_indexes: Vec::new(),
            ha: None,
            copy_totals: BTreeMap::new(),
        };
        Status {
            inner: Arc::new(Mutex::new(inner)),
            pauses: Arc::default(),
            parked: Arc::default(),
            jobs: Arc::default(),
            runs: Arc::default(),
            bus: Arc::default(),
            divergences: Arc::default(),
            recent: Arc::default(),
            holds: Arc::default(),
            sync: Arc::default(),
            changes: Arc::default(),
        }
    }

    /// What `apply.hold` holds (the watcher holds, the control API releases or discards).
    pub fn holds(&self) -> &Arc<crate::control::holds::Holds> {
        &self.holds
    }

    /// The pause state the watcher obeys and the control API changes.
    pub fn pauses(&self) -> &Arc<crate::control::Pauses> {
        &self.pauses
    }

    /// The parked documents the writers keep and the control API lists, retries and skips.
    pub fn parked(&self) -> &Arc<parking_lot::Mutex<crate::control::parked::Parked>> {
        &self.parked
    }

    /// The resync jobs the control API submits and the tail's job runner carries out.
    pub fn jobs(&self) -> &Arc<crate::control::jobs::Jobs> {
        &self.jobs
    }

    /// The run history the reporter's events feed.
    pub fn changes(&self) -> &Arc<parking_lot::Mutex<Option<crate::history::audit::Source>>> {
        &self.changes
    }

    pub fn runs(&self) -> &Arc<crate::history::RunLog> {
        &self.runs
    }

    /// The event bus the reporter feeds and `GET /api/v1/events` and webhooks read.
    pub fn bus(&self) -> &Arc<crate::notify::Bus> {
        &self.bus
    }

    /// The continuous verifier's divergences and sweep progress (`GET /api/v1/divergences`).
    pub fn divergences(&self) -> &Arc<crate::verify::divergences::Divergences> {
        &self.divergences
    }

    /// The writers' hook of recently applied keys ([`crate::verify::recent`]).
    pub fn recent_keys(&self) -> &Arc<crate::verify::recent::Recent> {
        &self.recent
    }

    /// The copy's estimate of `collection`'s source documents (for progress totals).
    pub fn set_copy_total(&self, collection: &str, total: u64) {
        self.lock()
            .copy_totals
            .insert(collection.to_string(), total);
    }

    /// Estimated source documents per collection being or having been copied.
    pub fn copy_totals(&self) -> BTreeMap<String, u64> {
        self.lock().copy_totals.clone()
    }

    /// The indexes waiting to be built (`collection.name`): not missing, only not there yet.
    pub fn pending_indexes(&self) -> Vec<String> {
        self.lock().pending_indexes.clone()
    }

    /// The running two-way sync the API reaches (crate::sync).
    pub fn sync(&self) -> &Arc<crate::sync::Hub> {
        &self.sync
    }

    /// A panic elsewhere must not take `/status` down with it: the data stays usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_phase(&self, phase: Phase) {
        self.lock().phase = phase;
    }
    pub fn phase(&self) -> Phase {
        self.lock().phase
    }
    pub fn add_applied(&self, op: Op, n: u64) {
        *self.lock().applied.entry(op.as_str()).or_insert(0) += n;
    }
    /// Cluster time (seconds, increment) and wall time (ms) of the newest applied event.
    pub fn set_last_applied(
        &self,
        cluster_time: Option<bson::Timestamp>,
        wall_time_ms: Option<i64>,
    ) {
        let mut inner = self.lock();
        inner.last_cluster_time = cluster_time;
        inner.last_wall_time_ms = wall_time_ms;
    }
    pub fn set_lag_seconds(&self, lag: f64) {
        self.lock().lag_seconds = lag.max(0.0);
    }
    pub fn set_checkpoint_now(&self) {
        self.lock().last_checkpoint = Some(SystemTime::now());
    }
    /// Redacted message of the last error, with its kind.
    pub fn set_error(&self, kind: &str, message: &str) {
        let error = LastError {
            kind: kind.to_string(),
            // Errors are redacted when made; again here, for any text passed in directly.
            message: crate::error::redact::redact_values(message),
            at: SystemTime::now(),
        };
        self.lock().last_error = Some(error);
    }
    pub fn set_up(&self, side: Side, up: bool) {
        let mut inner = self.lock();
        match side {
            Side::Source => inner.source_up = up,
            Side::Target => inner.target_up = up,
        }
    }
    pub fn set_stream_open(&self, open: bool) {
        self.lock().stream_open = open;
    }
    pub fn set_stalled(&self, stalled: bool) {
        self.lock().stalled = stalled;
    }
    /// Indexes the copy defers until it has caught up (unique ones), for the operator.
    pub fn set_pending_indexes(&self, names: Vec<String>) {
        self.lock().pending_indexes = names;
    }
    /// The `ha` role and lease (`ha.enabled` only).
    pub fn set_ha(&self, view: HaView) {
        self.lock().ha = Some(view);
    }

    /// `/readyz`'s body when ready: a standby says so (it is ready to take over).
    pub fn ready_line(&self) -> String {
        match &self.lock().ha {
            Some(h) if !h.active => format!(
                "ready: standby (lease held by {:?}, epoch {})",
                h.holder, h.epoch
            ),
            _ => "ready".to_string(),
        }
    }

    /// Ready: both sides up, stream open, not stalled, not stopping.
    pub fn ready(&self) -> bool {
        self.not_ready_reason().is_none()
    }

    /// Why the replicator is not ready, as one line for `/readyz`; `None` when ready.
    pub fn not_ready_reason(&self) -> Option<String> {
        self.lock().not_ready_reason()
    }

    pub fn to_json(&self) -> Value {
        let inner = self.lock();
        let cluster_time = inner
            .last_cluster_time
            .map(|ts| json!({ "t": ts.time, "i": ts.increment }));
        let wall_time = inner
            .last_wall_time_ms
            .map(|ms| rfc3339(bson::DateTime::from_millis(ms)));
        let checkpoint = inner
            .last_checkpoint
            .map(|at| rfc3339(bson::DateTime::from_system_time(at)));
        let last_error = inner.last_error.as_ref().map(|e| {
            json!({ "kind": e.kind, "message": e.message, "at": rfc3339(bson::DateTime::from_system_time(e.at)) })
        });
        json!({
            "phase": inner.phase,
            "version": env!("CARGO_PKG_VERSION"),
            "source": { "database": inner.source_db },
            "target": { "database": inner.target_db },
            "events_applied": inner.applied,
            "last_applied_cluster_time": cluster_time,
            "last_applied_wall_time": wall_time,
            "lag_seconds": inner.lag_seconds,
            "last_checkpoint_time": checkpoint,
            "last_error": last_error,
            "up": { "source": inner.source_up, "target": inner.target_up },
            "stream_open": inner.stream_open,
            "stalled": inner.stalled,
            "ready": inner.not_ready_reason().is_none(),
            "pending_indexes": inner.pending_indexes,
            "role": match &inner.ha { Some(h) if !h.active => "standby", _ => "active" },
            "ha": inner.ha.as_ref().map(|h| json!({"holder": h.holder, "epoch": h.epoch})),
            "verify": self.divergences.summary(),
        })
    }
}

impl Inner {
    fn not_ready_reason(&self) -> Option<String> {
        // A standby has no stream: ready while it can reach the lease to take over.
        if let Some(h) = self.ha.as_ref().filter(|h| !h.active) {
            return (!h.reachable)
                .then(|| "not ready: standby, the target (lease) is unreachable".to_string());
        }
        let reason = if self.phase == Phase::Stopped {
            "stopping"
        } else if !self.source_up {
            "source unreachable"
        } else if !self.target_up {
            "target unreachable"
        } else if !self.stream_open {
            "change stream not open"
        } else if self.stalled {
            "stalled: events arriving but the checkpoint watermark is not advancing"
        } else {
            return None;
        };
        Some(format!(
            "not ready: {reason} (phase {})",
            self.phase.as_str()
        ))
    }
}

/// [`rfc3339`] of a system time (the control API's `since` fields).
pub fn rfc3339_of(at: SystemTime) -> Value {
    rfc3339(bson::DateTime::from_system_time(at))
}

/// RFC 3339 in UTC with milliseconds; falls back to the raw milliseconds for dates outside the
/// range RFC 3339 can express (never expected from a real server).
fn rfc3339(at: bson::DateTime) -> Value {
    match at.try_to_rfc3339_string() {
        Ok(s) => Value::String(s),
        Err(_) => Value::from(at.timestamp_millis()),
    }
}

#[cfg(test)]
mod tests;
