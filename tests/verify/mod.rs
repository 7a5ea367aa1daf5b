//! Continuous verification (`[verify.continuous]`) end to end through the binary: damage made
//! directly on the backup while traffic runs is found within a sweep, with the right kind, and
//! repaired ([`repair`]); heavy mixed traffic gives no divergence at all ([`traffic`]); a
//! kill -9 mid-sweep resumes at the persisted position ([`resume`]).

mod namespaces;
mod repair;
mod resume;
mod traffic;

use crate::control::{get_authed, json, token_config};
use crate::support::procs::ReplicatorProcess;
use crate::support::{wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::config::Config;
use mongodb::Collection;
use serde_json::Value;
use std::time::Duration;

pub(super) const WAIT: Duration = Duration::from_secs(120);

/// A configuration with the continuous verifier on at `docs_per_second`.
pub(super) fn verify_config(dep: &Deployment, tag: &str, docs_per_second: u64) -> Config {
    let mut cfg = token_config(dep, tag, &[]);
    let c = &mut cfg.verify.continuous;
    c.enabled = true;
    c.docs_per_second = docs_per_second;
    cfg
}

/// Starts `run` and waits until it is ready (tailing).
pub(super) async fn start(dir: &std::path::Path, cfg: &Config) -> ReplicatorProcess {
    let p = ReplicatorProcess::run(dir, cfg);
    wait_until("ready (tailing)", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;
    p
}

/// `GET /api/v1/divergences?limit=1000` as JSON.
pub(super) async fn divergences(p: &ReplicatorProcess) -> Value {
    json(&get_authed(p.http, "/api/v1/divergences?limit=1000").await)
}

/// The `verify` block of `/status`.
pub(super) async fn verify_status(p: &ReplicatorProcess) -> Value {
    json(&get_authed(p.http, "/status").await)["verify"].clone()
}

/// The number of the sweep in progress (`/status`).
pub(super) async fn sweep_number(p: &ReplicatorProcess) -> u64 {
    verify_status(p).await["sweep"].as_u64().unwrap_or(0)
}

/// `orders` on both sides of `cfg`, the source seeded with `_id`s `0..n` (`v: 0` and a name).
pub(super) async fn orders(
    dep: &Deployment,
    cfg: &Config,
    n: i32,
) -> (Collection<Document>, Collection<Document>) {
    let source = dep
        .db(&cfg.source.database)
        .collection::<Document>("orders");
    let seed: Vec<Document> = (0..n)
        .map(|i| doc! {"_id": i, "v": 0, "name": format!("n{i}")})
        .collect();
    source.insert_many(seed).await.unwrap();
    (source, dep.db(&cfg.target.database).collection("orders"))
}
