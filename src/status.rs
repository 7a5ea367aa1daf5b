//! The live state behind `/status` and `/readyz`, shared between the pipeline and the HTTP server.
// OWNER: ops helper.

use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Copying,
    Tailing,
    Resyncing,
    Stopped,
}

/// Cheap to clone; internally synchronised.
#[derive(Clone)]
pub struct Status {
    _inner: Arc<()>,
}

impl Status {
    pub fn new(source_db: &str, target_db: &str) -> Status {
        let _ = (source_db, target_db);
        todo!("ops")
    }
    pub fn set_phase(&self, phase: Phase) {
        let _ = phase;
        todo!("ops")
    }
    pub fn phase(&self) -> Phase {
        todo!("ops")
    }
    pub fn add_applied(&self, op: &str, n: u64) {
        let _ = (op, n);
        todo!("ops")
    }
    /// Cluster time (seconds, increment) and wall time (ms) of the newest applied event.
    pub fn set_last_applied(&self, cluster_time: Option<bson::Timestamp>, wall_time_ms: Option<i64>) {
        let _ = (cluster_time, wall_time_ms);
        todo!("ops")
    }
    pub fn set_lag_seconds(&self, lag: f64) {
        let _ = lag;
        todo!("ops")
    }
    pub fn set_checkpoint_now(&self) {
        todo!("ops")
    }
    /// Redacted message of the last error, with its kind.
    pub fn set_error(&self, kind: &str, message: &str) {
        let _ = (kind, message);
        todo!("ops")
    }
    pub fn set_up(&self, side: &str, up: bool) {
        let _ = (side, up);
        todo!("ops")
    }
    pub fn set_stream_open(&self, open: bool) {
        let _ = open;
        todo!("ops")
    }
    pub fn set_stalled(&self, stalled: bool) {
        let _ = stalled;
        todo!("ops")
    }
    /// Indexes the copy defers until it has caught up (unique ones), for the operator.
    pub fn set_pending_indexes(&self, names: Vec<String>) {
        let _ = names;
        todo!("ops")
    }
    /// Ready: both sides up, stream open, not stalled, not stopping.
    pub fn ready(&self) -> bool {
        todo!("ops")
    }
    pub fn to_json(&self) -> serde_json::Value {
        todo!("ops")
    }
}
