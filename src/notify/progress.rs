//! The `progress` event, once a second while the backup is being filled (copying, resyncing)
//! or catching up (tailing with a lag of [`CATCHING_UP_SECONDS`] or more): phase, lag,
//! documents copied per collection and events applied, all read from `/status`'s state.

use crate::ops::status::{Phase, Status};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const EVERY: Duration = Duration::from_secs(1);
/// Tailing this far behind counts as catching up.
pub const CATCHING_UP_SECONDS: f64 = 1.0;

/// The progress data now, or `None` when nothing is in progress.
pub fn snapshot(status: &Status) -> Option<Value> {
    let s = status.to_json();
    let lag = s["lag_seconds"].as_f64().unwrap_or(0.0);
    let busy = match status.phase() {
        Phase::Copying | Phase::Resyncing => true,
        Phase::Tailing => lag >= CATCHING_UP_SECONDS,
        _ => false,
    };
    if !busy {
        return None;
    }
    let run = status.runs().to_json(1, "");
    let current = &run["runs"][0];
    Some(json!({
        "phase": s["phase"],
        "lag_seconds": lag,
        "copied": current["copies"].clone(),
        "copied_documents": current["copied_documents"].clone(),
        "events_applied": s["events_applied"],
    }))
}

/// Emits [`snapshot`] every [`EVERY`] until `stop`.
pub fn spawn(status: Status, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Some(data) = snapshot(&status) {
                status.bus().emit("progress", data);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_while_filling_or_catching_up() {
        let status = Status::new("a", "b");
        assert!(snapshot(&status).is_none());
        status.set_phase(Phase::Copying);
        status.runs().copied("orders", 7);
        let p = snapshot(&status).expect("copying is progress");
        assert_eq!(p["phase"], "copying");
        assert_eq!(p["copied_documents"], 7);
        status.set_phase(Phase::Tailing);
        assert!(snapshot(&status).is_none());
        status.set_lag_seconds(5.0);
        assert_eq!(snapshot(&status).unwrap()["lag_seconds"], 5.0);
    }
}
