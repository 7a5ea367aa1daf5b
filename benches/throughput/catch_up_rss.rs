//! The tail's memory as the backlog doubles: the peak RSS (`VmHWM`) of the `mongo-replicator`
//! binary catching up a backlog from a checkpoint primed before it, each size in a fresh child
//! process (`child.rs`). A fresh process per size is what makes the two comparable: measured
//! in the bench's own process, the growth over its RSS at the start moved by up to 1.3x
//! between passes with the allocator's state left by the earlier phases.

use crate::child::{status_kib, Replicator};
use mongo_replicator::config::Config;
use std::path::Path;

/// Peak RSS in MB of a `run` on `cfg`'s checkpoint until `/status` counts `events` applied.
pub async fn catch_up(dir: &Path, cfg: &Config, events: u64) -> f64 {
    let name = format!("catch_up_{}", cfg.target.database);
    let replicator = Replicator::start(dir, cfg, &name);
    replicator.wait("catch-up", |s| applied(s) >= events).await;
    peak_mb(replicator)
}

/// Peak RSS in MB of a `run` on `cfg`'s checkpoint with nothing to catch up, two seconds into
/// its tail: the process every catch-up figure starts from.
pub async fn idle(dir: &Path, cfg: &Config) -> f64 {
    let name = format!("idle_{}", cfg.target.database);
    let replicator = Replicator::start(dir, cfg, &name);
    replicator
        .wait("tailing", |s| s["phase"] == "tailing")
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    peak_mb(replicator)
}

/// Events applied as `/status` counts them (`events_applied`, per operation).
fn applied(status: &serde_json::Value) -> u64 {
    status["events_applied"]
        .as_object()
        .map(|ops| ops.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0)
}

fn peak_mb(replicator: Replicator) -> f64 {
    let kib = status_kib(replicator.child.id(), "VmHWM:").expect("replicator alive");
    replicator.stop();
    kib as f64 / 1024.0
}
