//! The verifier's metric families, registered with the replicator's others
//! ([`crate::ops::metrics::Metrics::verify`]), every label set pre-initialised.

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub const VERIFY_DOCUMENTS_TOTAL: &str = "mongo_replicator_verify_documents_total";
pub const VERIFY_DIVERGENCES_TOTAL: &str = "mongo_replicator_verify_divergences_total";
pub const VERIFY_REPAIRS_TOTAL: &str = "mongo_replicator_verify_repairs_total";
pub const VERIFY_SWEEP_PROGRESS_RATIO: &str = "mongo_replicator_verify_sweep_progress_ratio";
pub const VERIFY_LAST_FULL_SWEEP_TIMESTAMP_SECONDS: &str =
    "mongo_replicator_verify_last_full_sweep_timestamp_seconds";
pub const VERIFY_MAX_SWEEP_AGE_SECONDS: &str = "mongo_replicator_verify_max_sweep_age_seconds";

/// The `kind` label of `verify_divergences_total`.
pub const KINDS: [&str; 5] = ["missing", "extra", "different", "options", "index"];

pub struct VerifyMetrics {
    documents: IntCounter,
    divergences: IntCounterVec,
    repairs: IntCounter,
    progress: Gauge,
    last_full_sweep: IntGauge,
    max_sweep_age: IntGauge,
}

impl VerifyMetrics {
    pub fn register(registry: &Registry) -> VerifyMetrics {
        let reg = |c: Box<dyn prometheus::core::Collector>| {
            registry.register(c).expect("metric registered once")
        };
        let documents = IntCounter::new(
            VERIFY_DOCUMENTS_TOTAL,
            "Documents the continuous verifier compared on both sides (sweeps and recent changes).",
        )
        .expect("valid metric");
        let divergences = IntCounterVec::new(Opts::new(VERIFY_DIVERGENCES_TOTAL, "Differences between the sides that survived a re-check after the tail applied past the source read, by kind."), &["kind"]).expect("valid metric");
        let repairs = IntCounter::new(VERIFY_REPAIRS_TOTAL, "Divergences the continuous verifier repaired (documents rewritten from the source, indexes rebuilt).").expect("valid metric");
        let progress = Gauge::new(
            VERIFY_SWEEP_PROGRESS_RATIO,
            "Share of the current full sweep done (collections walked, 0 to 1).",
        )
        .expect("valid metric");
        let last_full_sweep = IntGauge::new(
            VERIFY_LAST_FULL_SWEEP_TIMESTAMP_SECONDS,
            "Unix time the last full sweep finished (0: none yet).",
        )
        .expect("valid metric");
        let max_sweep_age = IntGauge::new(VERIFY_MAX_SWEEP_AGE_SECONDS, "verify.continuous.max_sweep_age in seconds: no full sweep for longer raises ReplicatorVerifySweepOverdue.").expect("valid metric");
        reg(Box::new(documents.clone()));
        reg(Box::new(divergences.clone()));
        reg(Box::new(repairs.clone()));
        reg(Box::new(progress.clone()));
        reg(Box::new(last_full_sweep.clone()));
        reg(Box::new(max_sweep_age.clone()));
        for kind in KINDS {
            divergences.with_label_values(&[kind]);
        }
        VerifyMetrics {
            documents,
            divergences,
            repairs,
            progress,
            last_full_sweep,
            max_sweep_age,
        }
    }

    pub fn compared(&self, n: u64) {
        self.documents.inc_by(n);
    }

    /// One divergence of `kind` (one of [`KINDS`]).
    pub fn diverged(&self, kind: &str) {
        if KINDS.contains(&kind) {
            self.divergences.with_label_values(&[kind]).inc();
        }
    }

    pub fn repaired(&self) {
        self.repairs.inc();
    }

    pub fn set_progress(&self, ratio: f64) {
        self.progress.set(ratio.clamp(0.0, 1.0));
    }

    pub fn set_last_full_sweep(&self, unix_seconds: i64) {
        self.last_full_sweep.set(unix_seconds);
    }

    pub fn set_max_sweep_age(&self, age: std::time::Duration) {
        self.max_sweep_age
            .set(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
    }
}
