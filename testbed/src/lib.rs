//! `mongo-testbed`: a MongoDB-compatible single-node replica set, written to the public wire
//! protocol and command documentation, for tests, benchmarks and `demo`. Real clients (the
//! official Rust driver, PyMongo) work against it unchanged. Production runs on real MongoDB.
//!
//! Map of the crate:
//! - `wire`, `server`, `commands`, `cursor`, `failpoint`: the network face (OP_MSG/OP_QUERY, command dispatch).
//! - `store`, `changestream`: the data, the oplog and change streams (and `--dbpath` persistence).
//! - `compare`, `collation`, `path`, `matcher`, `update`, `projection`, `sort`, `pipeline`, `numeric`: the query engine (pure).
//! - `error`: command errors as mongod renders them.

// `CmdError` carries the reply fields mongod sends (labels, extra document): large by design,
// and built once per failed command, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod auth;
pub mod changestream;
pub mod collation;
mod commands;
pub mod compare;
mod cursor;
pub mod error;
mod failpoint;
pub mod matcher;
pub mod numeric;
mod params;
pub use params::DEFAULT_TTL_MONITOR_SLEEP_SECS;
pub mod path;
pub mod pipeline;
pub mod projection;
mod server;
mod sessions;
pub mod sort;
pub mod store;
pub mod update;
mod wire;

use server::ServerState;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to start a testbed.
#[derive(Debug, Clone)]
pub struct TestbedOptions {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    pub dbpath: Option<PathBuf>,
    /// Replica set name advertised by `hello`.
    pub replset: String,
    pub oplog_max_entries: usize,
    /// `(name, password)` of the users in `admin` (SCRAM-SHA-256). Empty (the default) turns
    /// access control off: every client is accepted without credentials.
    pub users: Vec<(String, String)>,
    /// Answer `hello` as a standalone mongod (no `setName`/`hosts`); change streams then fail
    /// with 40573, as they do on a real standalone server.
    pub standalone: bool,
    /// `ttlMonitorSleepSecs`: seconds between TTL monitor passes (mongod's default, 60).
    pub ttl_monitor_sleep_secs: u64,
    /// `NAME=VALUE` server parameters set at startup, as `--setParameter` (e.g.
    /// `ttlMonitorEnabled=false`); an unknown name or bad value fails the start.
    pub set_parameters: Vec<String>,
}

impl Default for TestbedOptions {
    fn default() -> Self {
        TestbedOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            dbpath: None,
            replset: "rs0".into(),
            oplog_max_entries: 10_000_000,
            users: Vec::new(),
            standalone: false,
            ttl_monitor_sleep_secs: DEFAULT_TTL_MONITOR_SLEEP_SECS,
            set_parameters: Vec::new(),
        }
    }
}

/// A running testbed; shuts down cleanly when dropped (the accept loop and every connection
/// task are aborted).
pub struct Testbed {
    addr: SocketAddr,
    me: String,
    replset: String,
    standalone: bool,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// File in `--dbpath` holding the set's `replicaSetId` (hex), as mongod keeps it in its config.
const REPLICA_SET_ID_FILE: &str = "replica_set_id";

/// The `replicaSetId` stored in `dir`, made and stored on the first start there.
fn replica_set_id(dir: &std::path::Path) -> std::io::Result<bson::oid::ObjectId> {
    let path = dir.join(REPLICA_SET_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(hex) => bson::oid::ObjectId::parse_str(hex.trim()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = bson::oid::ObjectId::new();
            std::fs::write(&path, id.to_hex())?;
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// The `host:port` clients are told to use: the bound address, or loopback for a wildcard bind.
fn advertised(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port()).to_string()
}

impl Testbed {
    /// Binds, recovers `dbpath` if set, and starts serving on the current tokio runtime.
    pub async fn start(options: TestbedOptions) -> std::io::Result<Testbed> {
        let users = auth::Users::new(&options.users)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let store = Store::open(StoreOptions {
            dbpath: options.dbpath.clone(),
            oplog_max_entries: options.oplog_max_entries,
        })?;
        let me = advertised(addr);
        let (stop, stopped) = watch::channel(false);
        let mut state =
            ServerState::new(store, options.replset.clone(), me.clone(), stopped.clone());
        state.users = users;
        if let Some(dir) = &options.dbpath {
            state.replica_set_id = replica_set_id(dir)?;
        }
        state.standalone = options.standalone;
        state.params = Arc::new(params::Parameters::new(options.ttl_monitor_sleep_secs));
        for p in &options.set_parameters {
            state
                .params
                .set_from_arg(p)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let state = Arc::new(state);
        let monitor = tokio::spawn(params::ttl_monitor(
            state.store.clone(),
            state.params.clone(),
            stopped.clone(),
        ));
        let task = tokio::spawn(async move {
            server::serve(listener, state, stopped).await;
            monitor.abort();
        });
        Ok(Testbed {
            addr,
            me,
            replset: options.replset,
            standalone: options.standalone,
            stop,
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mongodb://127.0.0.1:PORT/?replicaSet=rs0` (host as advertised in `hello`), or
    /// `mongodb://127.0.0.1:PORT/` for a standalone.
    pub fn uri(&self) -> String {
        if self.standalone {
            format!("mongodb://{}/", self.me)
        } else {
            format!("mongodb://{}/?replicaSet={}", self.me, self.replset)
        }
    }

    /// Stops accepting, closes connections, flushes the journal (the store is dropped once the
    /// last connection task holding it has ended, which this waits for).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
