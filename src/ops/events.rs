//! Named events: each signal of the pipeline is one call that updates its metric, `/status`
//! and log line together, so no second hand-written update can drift from the first.

use super::labels::{Op, Side};
use super::reporter::Reporter;
use crate::error::Error;
use crate::source::translate::ClusterTime;

impl Reporter {
    /// One change event read from the source stream.
    pub fn event_received(&self) {
        self.metrics.events_received(1);
    }

    /// A batch written to the target: counts per operation, batch size and duration, and the
    /// newest applied position (cluster time, source wall time).
    pub fn batch_applied(
        &self,
        per_op: &[(Op, u64)],
        size: usize,
        seconds: f64,
        last: (Option<ClusterTime>, Option<i64>),
    ) {
        self.set_up(Side::Target, true);
        self.metrics.batch_applied(per_op, size, seconds);
        for (op, n) in per_op {
            self.status.add_applied(*op, *n);
        }
        self.status
            .set_last_applied(last.0.map(ClusterTime::timestamp), last.1);
    }

    /// A DDL event applied to the target (`description` names the operation and collections,
    /// never document values).
    pub fn ddl_applied(&self, description: &str) {
        self.metrics.batch_applied(&[(Op::Ddl, 1)], 1, 0.0);
        self.status.add_applied(Op::Ddl, 1);
        self.status.runs().ddl(description);
        (self.status.bus()).emit("ddl_applied", serde_json::json!({ "ddl": description }));
        tracing::info!(ddl = %description, "applied DDL");
    }

    /// The checkpoint was written.
    pub fn checkpoint_saved(&self) {
        self.status.set_checkpoint_now();
    }

    /// The periodic health refresh: lag, checkpoint age, stall.
    pub fn health(&self, lag_seconds: f64, checkpoint_age_seconds: f64, stalled: bool) {
        self.metrics
            .set_checkpoint_age_seconds(checkpoint_age_seconds);
        self.metrics.set_lag_seconds(lag_seconds);
        self.status.set_lag_seconds(lag_seconds);
        self.metrics.set_stalled(stalled);
        self.status.set_stalled(stalled);
        self.status.bus().levels(lag_seconds, stalled);
    }

    /// The copy is about to copy `collections`: their series show from the first scrape.
    pub fn copy_started(&self, collections: &[String]) {
        for c in collections {
            self.metrics.init_copy_collection(c);
        }
        (self.status.bus()).emit(
            "copy_started",
            serde_json::json!({ "collections": collections }),
        );
    }

    /// `n` documents of `collection` written by the copy.
    pub fn copy_batch_written(&self, collection: &str, n: u64) {
        self.metrics.copy_documents(collection, n);
        self.status.runs().copied(collection, n);
    }

    /// A transient failure that a loop of its own retries (`what` says what failed and how the
    /// loop resumes): counted as a retry and an error, logged.
    pub fn retrying(&self, what: &str, err: &Error) {
        self.metrics.retry();
        self.record_error(err);
        tracing::warn!(error = %err, "{what}");
    }

    /// A resync of the whole of `collection` finished with `counts` (e.g. `[("copied", n),
    /// ("deleted", m)]`): kept in the run history, and its skipped documents are no longer
    /// known differences (the backup now holds the source's versions).
    pub fn resync_finished(&self, collection: &str, counts: &[(&str, u64)]) {
        self.status.runs().record_resync(collection, counts);
        self.status.parked().lock().end_skips_of(collection);
        crate::notify::bus::resync_finished(self.status.bus(), collection, counts);
    }

    /// A document of `collection` was parked (refused for good by the backup).
    pub fn document_parked(&self, collection: &str) {
        (self.status.bus()).emit(
            "document_parked",
            serde_json::json!({ "collection": collection }),
        );
    }

    /// The unique indexes still to build, as `collection.name`.
    pub fn pending_indexes(&self, labels: Vec<String>) {
        self.status.set_pending_indexes(labels);
    }
}
