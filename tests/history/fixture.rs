//! What the history tests share: a replicator process with history on over one deployment,
//! the time of its last applied change, and raw snapshots of collections.

use crate::support::procs::ReplicatorProcess;
use crate::support::{config, db_names, wait_until, Deployment};
use bson::RawDocumentBuf;
use mongo_replicator::config::Config;
use mongodb::Database;
use std::time::Duration;

pub const LIMIT: Duration = Duration::from_secs(60);

pub struct Fixture {
    pub dep: Deployment,
    pub cfg: Config,
    pub dir: tempfile::TempDir,
    pub config_path: String,
    pub process: ReplicatorProcess,
}

impl Fixture {
    /// A deployment and a replicator with `[history] enabled` (plus `adjust`) tailing it.
    pub async fn start(tag: &str, adjust: impl FnOnce(&mut Config)) -> Fixture {
        let dep = Deployment::start().await;
        let (src, dst) = db_names(tag);
        let mut cfg = config(&dep.uri, &src, &dst);
        cfg.history.enabled = true;
        adjust(&mut cfg);
        let dir = tempfile::tempdir().unwrap();
        let process = ReplicatorProcess::run(dir.path(), &cfg);
        // The jobs' own file: the process may still be reading `replicator.toml`.
        let path = dir.path().join("jobs.toml");
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
        let config_path = path.to_str().unwrap().to_string();
        let f = Fixture {
            dep,
            cfg,
            dir,
            config_path,
            process,
        };
        f.tailing().await;
        f
    }

    pub fn source(&self) -> Database {
        self.dep.db(&self.cfg.source.database)
    }

    pub fn backup(&self) -> Database {
        self.dep.db(&self.cfg.target.database)
    }

    pub fn history(&self) -> Database {
        self.dep.db(&self.cfg.checkpoint.database)
    }

    pub async fn status(&self) -> serde_json::Value {
        match self.process.get("/status").await {
            Some((200, body)) => serde_json::from_str(&body).unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    pub async fn tailing(&self) {
        wait_until("the replicator tails", LIMIT, || async {
            self.status().await["phase"] == "tailing"
        })
        .await;
    }

    /// The source's operation time now (at or after its last write), as `<secs>.<inc>`.
    pub async fn source_time(&self) -> String {
        let reply = self
            .source()
            .run_command(bson::doc! {"ping": 1})
            .await
            .unwrap();
        let t = reply.get_timestamp("operationTime").expect("operationTime");
        format!("{}.{}", t.time, t.increment)
    }

    /// Waits until the history's window says the backup applied past `at` (`<secs>.<inc>`):
    /// the replicator moves it each second.
    pub async fn applied_past(&self, at: &str) {
        let (secs, inc) = at.split_once('.').unwrap();
        let at = (secs.parse::<u32>().unwrap(), inc.parse::<u32>().unwrap());
        wait_until("the history window passes the time", LIMIT, || async {
            let w = self
                .history()
                .collection::<bson::Document>("history_window")
                .find_one(bson::doc! {})
                .await
                .unwrap();
            let applied = w
                .as_ref()
                .and_then(|w| w.get_document("applied").ok())
                .and_then(|a| a.get_timestamp("t").ok());
            applied.is_some_and(|t| (t.time, t.increment) > at)
        })
        .await;
    }

    /// Runs the binary with `args` and this fixture's configuration: (exit code, stdout, stderr).
    pub async fn binary(&self, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--config".to_string(), self.config_path.clone()]);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            crate::support::run_binary(&args, &[])
        })
        .await
        .unwrap()
    }

    /// `restore --at AT --into-db <target>_r`, asserted to succeed: the database and the output.
    pub async fn restore_into_new_db(&self, at: &str) -> (String, String) {
        let into = format!("{}_r", self.cfg.target.database);
        let (code, out, err) = self
            .binary(&["restore", "--at", at, "--into-db", &into])
            .await;
        assert_eq!(code, 0, "restore failed:\n{out}\n{err}");
        (into, out)
    }

    /// Waits until the backup equals the source collection by collection.
    pub async fn caught_up(&self, colls: &[&str]) {
        wait_until("the backup catches up", LIMIT, || async {
            for c in colls {
                if raw_docs(&self.source(), c).await != raw_docs(&self.backup(), c).await {
                    return false;
                }
            }
            true
        })
        .await;
    }
}

/// Every document of `db.coll` as raw bytes, in `_id` order: a byte-for-byte snapshot.
pub async fn raw_docs(db: &Database, coll: &str) -> Vec<RawDocumentBuf> {
    crate::support::documents_as(db, coll).await
}
