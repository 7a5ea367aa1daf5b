//! Two-way sync (`mongo-replicator sync`) end to end: two deployments, the binary between
//! them over real TCP, the remote side optionally behind the fault proxy. Shared fixture here;
//! one concern per file.

mod conflicts;
mod first_sync;
mod history;
mod two_way;

use crate::support::procs::ReplicatorProcess;
use crate::support::proxy::Proxy;
use crate::support::{self, wait_until, Deployment};
use mongo_replicator::config::{Config, ConnectionString, Secret, SideConfig, Strategy};
use mongo_testbed::TestbedOptions;
use mongodb::Database;
use serde_json::Value;
use std::time::Duration;

/// The bearer token of the sync's API in these tests.
pub const TOKEN: &str = "sync-test-token";
/// How long convergence may take on a loaded machine.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// Two deployments, the remote one reachable through a proxy, and a sync configuration.
pub struct Pair {
    pub local: Deployment,
    pub remote: Deployment,
    pub proxy: Proxy,
    pub db: String,
    pub cfg: Config,
    pub dir: tempfile::TempDir,
}

impl Pair {
    pub async fn start(tag: &str) -> Pair {
        Self::start_with(tag, TestbedOptions::default()).await
    }

    /// [`Pair::start`] with the remote testbed started with `remote` (a tiny oplog).
    pub async fn start_with(tag: &str, remote: TestbedOptions) -> Pair {
        let (local, remote) = (
            Deployment::start().await,
            Deployment::start_with(remote).await,
        );
        let proxy = Proxy::start(remote.testbed_addr()).await;
        let (db, _) = support::db_names(tag);
        let mut cfg = support::config(&local.uri, "unused_src", "unused_dst");
        let side = |uri: &str| SideConfig {
            uri: ConnectionString::new(uri),
            database: db.clone(),
            collections: Some(vec!["users".into(), "items".into()]),
        };
        cfg.local = Some(side(&local.uri));
        cfg.remote = Some(side(&proxy.uri()));
        cfg.sync.state_database = format!("state_{db}");
        cfg.http.token = Some(Secret::new(TOKEN));
        Pair {
            local,
            remote,
            proxy,
            db,
            cfg,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn with_strategy(mut self, collection: &str, s: Strategy) -> Pair {
        self.cfg.conflicts.collections.insert(collection.into(), s);
        self
    }

    pub fn local_db(&self) -> Database {
        self.local.db(&self.db)
    }

    pub fn remote_db(&self) -> Database {
        self.remote.db(&self.db)
    }

    /// Starts `mongo-replicator sync` and waits until its API answers.
    pub async fn sync(&self) -> ReplicatorProcess {
        let p = ReplicatorProcess::start(self.dir.path(), &self.cfg, "sync");
        wait_until("the sync API answers", CONVERGE, || async {
            api_get(&p, "/api/v1/sync/status").await.is_some()
        })
        .await;
        p
    }

    /// Waits until `coll` holds the same documents on both sides.
    pub async fn converged(&self, coll: &str) {
        wait_until(
            &format!("{coll} identical on both sides"),
            CONVERGE,
            || async {
                sorted(&self.local_db(), coll).await == sorted(&self.remote_db(), coll).await
            },
        )
        .await;
    }
}

pub use support::documents as sorted;

/// `GET path` with the token, parsed; `None` until it answers 200.
pub async fn api_get(p: &ReplicatorProcess, path: &str) -> Option<Value> {
    let r = support::http::get_with_token(p.http, path, TOKEN)
        .await
        .ok()?;
    (r.code == 200)
        .then(|| serde_json::from_str(&r.body).ok())
        .flatten()
}

/// `POST path` with the token: `(code, body)`.
pub async fn api_post(p: &ReplicatorProcess, path: &str, body: &str) -> (u16, Value) {
    let r = support::http::post(p.http, path, Some(TOKEN), Some(body))
        .await
        .expect("POST");
    (r.code, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// A direction's counter from `sync/status` (`local_to_remote`, `applied`).
pub async fn counter(p: &ReplicatorProcess, dir: &str, outcome: &str) -> u64 {
    api_get(p, "/api/v1/sync/status")
        .await
        .expect("sync/status")["directions"][dir][outcome]
        .as_u64()
        .unwrap()
}

/// The open conflicts.
pub async fn open_conflicts(p: &ReplicatorProcess) -> Vec<Value> {
    api_get(p, "/api/v1/conflicts?resolved=false")
        .await
        .map(|v| v["conflicts"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

#[test]
fn the_sync_example_configuration_loads() {
    let _env = support::env_lock();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example-sync.toml");
    let cfg = Config::load(Some(&path), serde_json::json!({})).unwrap();
    assert_eq!(cfg.local.unwrap().database, "app");
    assert_eq!(cfg.remote.unwrap().database, "app");
    assert_eq!(cfg.conflicts.strategy_of("orders"), Strategy::KeepLocal);
    assert_eq!(cfg.conflicts.strategy_of("users"), Strategy::Manual);
}
