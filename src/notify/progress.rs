//! The `progress` event, once a second while the backup is being filled (copying, resyncing)
//! or catching up (tailing with a lag of [`CATCHING_UP_SECONDS`] or more): phase, lag,
//! documents copied per collection with the source's estimated totals, events applied, and
//! the rates since the previous tick, all read from `/status`'s state.

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
        "copy_totals": status.copy_totals(),
        "events_applied": s["events_applied"],
    }))
}

/// Documents copied and events applied in a snapshot, the counts rates are taken from.
fn counts(p: &Value) -> (u64, u64) {
    let applied = p["events_applied"]
        .as_object()
        .map_or(0, |o| o.values().filter_map(Value::as_u64).sum());
    (p["copied_documents"].as_u64().unwrap_or(0), applied)
}

/// Adds `copy_docs_per_s` and `events_per_s`: the change since `prev` (counts, `secs` ago).
pub fn with_rates(mut now: Value, prev: Option<((u64, u64), f64)>) -> Value {
    let (copied, applied) = counts(&now);
    let (docs, events) = match prev {
        Some(((c0, a0), secs)) if secs > 0.0 => (
            copied.saturating_sub(c0) as f64 / secs,
            applied.saturating_sub(a0) as f64 / secs,
        ),
        _ => (0.0, 0.0),
    };
    now["copy_docs_per_s"] = json!(docs);
    now["events_per_s"] = json!(events);
    now
}

/// Emits [`snapshot`] every [`EVERY`] until `stop`.
pub fn spawn(status: Status, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut prev: Option<((u64, u64), std::time::Instant)> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match snapshot(&status) {
                Some(data) => {
                    let at = std::time::Instant::now();
                    let since = prev.map(|(c, t)| (c, at.duration_since(t).as_secs_f64()));
                    let data = with_rates(data, since);
                    prev = Some((counts(&data), at));
                    status.bus().emit("progress", data);
                }
                None => prev = None,
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
        status.set_copy_total("orders", 20);
        let p = snapshot(&status).expect("copying is progress");
        assert_eq!(p["phase"], "copying");
        assert_eq!(p["copied_documents"], 7);
        assert_eq!(p["copy_totals"]["orders"], 20);
        let first = with_rates(p.clone(), None);
        assert_eq!(first["copy_docs_per_s"], 0.0, "no previous tick: no rate");
        let later = with_rates(p, Some(((3, 0), 2.0)));
        assert_eq!(later["copy_docs_per_s"], 2.0, "4 more documents in 2 s");
        assert_eq!(later["events_per_s"], 0.0);
        status.set_phase(Phase::Tailing);
        assert!(snapshot(&status).is_none());
        status.set_lag_seconds(5.0);
        assert_eq!(snapshot(&status).unwrap()["lag_seconds"], 5.0);
    }
}
