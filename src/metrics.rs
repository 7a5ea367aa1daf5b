//! Metric names in one place, registered once, pre-initialised for every known label set so the
//! first scrape shows every series. Updated per batch, never per event.
// OWNER: ops helper.

use std::sync::Arc;

/// Operation labels of `events_applied_total{op}`.
pub const OPS: &[&str] = &["insert", "update", "replace", "delete", "ddl"];
/// Kinds of `errors_total{kind}`.
pub const ERROR_KINDS: &[&str] = &["source", "target", "conflict", "checkpoint", "history_lost", "config", "internal"];

pub struct Metrics {
    _private: (),
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        todo!("ops")
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        todo!("ops")
    }

    pub fn events_received(&self, n: u64) {
        let _ = n;
        todo!("ops")
    }

    /// One applied batch: `per_op` counts by op label, the batch's size and duration.
    pub fn batch_applied(&self, per_op: &[(&str, u64)], size: usize, seconds: f64) {
        let _ = (per_op, size, seconds);
        todo!("ops")
    }

    pub fn set_lag_seconds(&self, lag: f64) {
        let _ = lag;
        todo!("ops")
    }

    pub fn set_checkpoint_age_seconds(&self, age: f64) {
        let _ = age;
        todo!("ops")
    }

    pub fn copy_documents(&self, collection: &str, n: u64) {
        let _ = (collection, n);
        todo!("ops")
    }

    /// Registers a collection label for `copy_documents_total` at 0 so it shows before the first batch.
    pub fn init_copy_collection(&self, collection: &str) {
        let _ = collection;
        todo!("ops")
    }

    pub fn error(&self, kind: &str) {
        let _ = kind;
        todo!("ops")
    }

    pub fn retry(&self) {
        todo!("ops")
    }

    /// `side` is "source" or "target".
    pub fn set_up(&self, side: &str, up: bool) {
        let _ = (side, up);
        todo!("ops")
    }

    /// 1 while events arrive but the watermark has not moved for the stall threshold.
    pub fn set_stalled(&self, stalled: bool) {
        let _ = stalled;
        todo!("ops")
    }
}
