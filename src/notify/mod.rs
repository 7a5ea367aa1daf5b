//! Telling people (issue 16): one bounded event bus ([`bus`]) fed by the reporter, read by the
//! `GET /api/v1/events` stream (Server-Sent Events, [`crate::control::events`]), signed
//! webhooks ([`webhook`]) and the per-second `progress` ticker ([`progress`]).

pub mod bus;
pub mod progress;
pub mod webhook;

pub use bus::{Bus, Event};

/// Every event type, as it appears in `type`, in `X-Replicator-Event` and in a webhook's
/// `events = [...]` filter.
pub const KINDS: [&str; 21] = [
    "phase_changed",
    "copy_started",
    "copy_finished",
    "resync_started",
    "resync_finished",
    "document_parked",
    "document_retried",
    "conflict_detected",
    "stalled",
    "recovered",
    "history_lost",
    "lag_above",
    "lag_below",
    "paused",
    "resumed",
    "shutdown",
    "progress",
    "ddl_applied",
    // The continuous verifier (crate::verify).
    "divergence_found",
    "divergence_repaired",
    // apply.hold (crate::tail::hold_gate): a collection held, released or discarded.
    "held_change",
];

/// Wires the bus to the configuration: the lag threshold, one queue and delivery task per
/// webhook, and the progress ticker, all ending with `stop`.
pub fn start(
    cfg: &crate::config::Config,
    status: &crate::ops::status::Status,
    metrics: &std::sync::Arc<crate::ops::metrics::Metrics>,
    stop: &tokio_util::sync::CancellationToken,
) {
    let bus = status.bus();
    bus.set_lag_threshold(cfg.notify.lag_threshold_seconds as f64);
    let max_retry = std::time::Duration::from_secs(cfg.notify.max_retry_seconds);
    for hook in &cfg.notify.webhooks {
        bus.attach(webhook::spawn(
            hook.clone(),
            max_retry,
            metrics.clone(),
            stop.clone(),
        ));
    }
    progress::spawn(status.clone(), stop.clone());
}
