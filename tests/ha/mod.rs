//! `ha`: three replicator processes on one source/target pair, one active by a lease on the
//! target. Sampled through `leader` on every member and through the checkpoint's `epoch`.

mod config;
mod fence;
mod handover;
mod partition;
mod prefer_primary;

use crate::support::procs::ReplicatorProcess;
use crate::support::{config, db_names, Deployment};
use mongo_replicator::config::Config;
use mongo_replicator::ops::metrics::names;
use std::path::Path;
use std::time::Duration;

/// Short enough for tests, long enough for a loaded machine's scheduling.
pub const LEASE_SECONDS: u64 = 3;

/// A config for member `name` of the pair `src -> dst` on `dep`.
pub fn member_config(dep: &Deployment, tag: &str) -> Config {
    let (src, dst) = db_names(tag);
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.ha.enabled = true;
    cfg.ha.lease_seconds = LEASE_SECONDS;
    cfg.log.level = "info".into();
    cfg
}

/// The members' names.
pub const NAMES: [&str; 3] = ["a", "b", "c"];

/// A deployment, a member config for a fresh pair on it, and the source database (one
/// document in `orders`, so the copy has something to copy).
pub async fn pair(tag: &str) -> (Deployment, Config, mongodb::Database) {
    let dep = Deployment::start().await;
    let cfg = member_config(&dep, tag);
    let db = dep.db(&cfg.source.database);
    db.collection::<bson::Document>("orders")
        .insert_one(bson::doc! {"_id": 0})
        .await
        .unwrap();
    (dep, cfg, db)
}

/// Starts the three members [`NAMES`], each in its own directory below `dir`.
pub fn start_members(dir: &Path, cfg: &Config) -> Vec<ReplicatorProcess> {
    NAMES.iter().map(|n| start_member(dir, cfg, n)).collect()
}

/// Starts member `name` in `dir` (each member its own directory, config and log).
pub fn start_member(dir: &Path, cfg: &Config, name: &str) -> ReplicatorProcess {
    let mut cfg = cfg.clone();
    cfg.ha.name = name.to_string();
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    ReplicatorProcess::run(&dir, &cfg)
}

/// `leader` of each member (0 for one not answering).
pub async fn leaders(members: &[&ReplicatorProcess]) -> Vec<f64> {
    let mut out = Vec::new();
    for m in members {
        out.push(m.metric(names::LEADER).await);
    }
    out
}

/// The epoch stored on the pair's checkpoint (0 before the first claim).
pub async fn checkpoint_epoch(dep: &Deployment, cfg: &Config) -> i64 {
    let id = format!("{}->{}", cfg.source.database, cfg.target.database);
    let found = dep
        .db(&cfg.checkpoint.database)
        .collection::<bson::Document>("checkpoints")
        .find_one(bson::doc! {"_id": id})
        .await
        .unwrap();
    found
        .and_then(|d| d.get("epoch").and_then(bson::Bson::as_i64))
        .unwrap_or(0)
}

/// Samples `leader` on every member and the checkpoint's epoch for `period`: never two
/// leaders, the epoch never goes back. Returns the last epoch seen.
pub async fn sample(
    dep: &Deployment,
    cfg: &Config,
    members: &[&ReplicatorProcess],
    period: Duration,
) -> i64 {
    let until = std::time::Instant::now() + period;
    let mut epoch = checkpoint_epoch(dep, cfg).await;
    while std::time::Instant::now() < until {
        let l = leaders(members).await;
        assert!(
            l.iter().filter(|v| **v == 1.0).count() <= 1,
            "two active instances at once: leader = {l:?}"
        );
        let e = checkpoint_epoch(dep, cfg).await;
        assert!(
            e >= epoch,
            "the checkpoint's epoch went back: {epoch} -> {e}"
        );
        epoch = e;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    epoch
}

/// The index of the one leader, once exactly one member says `leader 1`.
pub async fn one_leader(members: &[&ReplicatorProcess], limit: Duration) -> usize {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let l = leaders(members).await;
        if l.iter().filter(|v| **v == 1.0).count() == 1 {
            return l.iter().position(|v| *v == 1.0).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no single leader after {limit:?}: leader = {:?}",
        leaders(members).await
    );
}

/// `/status` of a member as JSON.
pub async fn status(m: &ReplicatorProcess) -> serde_json::Value {
    let (_, body) = m.get("/status").await.expect("status");
    serde_json::from_str(&body).expect("status json")
}
