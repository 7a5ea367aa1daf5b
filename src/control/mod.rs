//! Operator control (issue 12, first part): the bearer-token check in front of `/status` and
//! `/api/v1/*` ([`auth`]), the API handlers ([`api`], described by [`openapi`]), what is
//! paused ([`pause`]), the events held for paused collections ([`held`]) and keeping the
//! paused state in the checkpoint ([`persist`]).

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod events;
pub mod failed;
pub mod held;
pub mod history;
pub mod holds;
pub mod holds_api;
pub mod jobs;
pub mod openapi;
pub mod parked;
pub mod pause;
pub mod persist;
pub mod resync;
pub mod resync_job;
pub mod runs;
pub mod skipped;

pub use pause::{PauseState, Pauses, UnknownCollection, ALL};

/// One protected route (the `route` label of `control_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Changes state: logged with the caller's address and the result.
    pub mutating: bool,
}

const fn route(method: &'static str, path: &'static str, mutating: bool) -> Route {
    Route {
        method,
        path,
        mutating,
    }
}

/// Every route behind the token. The router is built from the same paths and
/// `/api/v1/openapi.json` must describe exactly the `/api/v1` ones (a test checks both).
pub const ROUTES: [Route; 23] = [
    route("GET", "/status", false),
    route("GET", "/api/v1/status", false),
    route("GET", "/api/v1/config", false),
    route("POST", "/api/v1/pause", true),
    route("POST", "/api/v1/resume", true),
    route("GET", "/api/v1/openapi.json", false),
    route("GET", "/api/v1/failed", false),
    route("POST", "/api/v1/failed/retry", true),
    route("POST", "/api/v1/failed/skip", true),
    // Resync jobs.
    route("POST", "/api/v1/resync", true),
    route("GET", "/api/v1/jobs/{id}", false),
    // The run history (crate::history).
    route("GET", "/api/v1/runs", false),
    // The event stream (crate::notify), Server-Sent Events.
    route("GET", "/api/v1/events", false),
    // The continuous verifier (crate::verify).
    route("GET", "/api/v1/divergences", false),
    // Destructive changes held by apply.hold (crate::control::holds_api).
    route("GET", "/api/v1/held", false),
    route("POST", "/api/v1/held/release", true),
    route("POST", "/api/v1/held/discard", true),
    // Two-way sync (crate::sync).
    route("GET", "/api/v1/sync/status", false),
    route("POST", "/api/v1/sync/now", true),
    route("GET", "/api/v1/conflicts", false),
    route("POST", "/api/v1/conflicts/{id}/resolve", true),
    route("POST", "/api/v1/conflicts/auto-resolve", true),
    // The change history's audit trail (crate::history::audit).
    route("GET", "/api/v1/history", false),
];

/// The `result` label of `control_requests_total`: 2xx, 401, other 4xx, 5xx.
pub const RESULTS: [&str; 4] = ["ok", "unauthorized", "bad_request", "error"];

/// The `result` label of an HTTP status code.
pub fn result_of(code: u16) -> &'static str {
    match code {
        200..=299 => "ok",
        401 => "unauthorized",
        400..=499 => "bad_request",
        _ => "error",
    }
}

/// Sets `paused{collection}` for every registered label from the current state.
pub fn publish_metrics(pauses: &Pauses, metrics: &crate::ops::metrics::Metrics) {
    let state = pauses.snapshot();
    for label in metrics.paused_labels() {
        let on = if label == ALL {
            state.all
        } else {
            state.collections.contains(&label)
        };
        metrics.set_paused(&label, on);
        metrics.set_pause_started(&label, pauses.since(&label));
    }
}
