//! `mongo-testbed`: a MongoDB-compatible single-node replica set, written to the public wire
//! protocol and command documentation, for tests, benchmarks and `demo`. Real clients (the
//! official Rust driver, PyMongo) work against it unchanged. Production runs on real MongoDB.
//!
//! Map of the crate:
//! - `wire`, `server`, `commands`, `cursor`, `failpoint`: the network face (OP_MSG/OP_QUERY, command dispatch).
//! - `store`, `changestream`: the data, the oplog and change streams (and `--dbpath` persistence).
//! - `compare`, `path`, `matcher`, `update`, `projection`, `sort`, `pipeline`, `numeric`: the query engine (pure).
//! - `error`: command errors as mongod renders them.

pub mod changestream;
pub mod compare;
pub mod error;
pub mod matcher;
pub mod numeric;
pub mod path;
pub mod pipeline;
pub mod projection;
pub mod sort;
pub mod store;
pub mod update;

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to start a testbed.
#[derive(Debug, Clone)]
pub struct TestbedOptions {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    pub dbpath: Option<PathBuf>,
    /// Replica set name advertised by `hello`.
    pub replset: String,
    pub oplog_max_entries: usize,
}

impl Default for TestbedOptions {
    fn default() -> Self {
        TestbedOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            dbpath: None,
            replset: "rs0".into(),
            oplog_max_entries: 10_000_000,
        }
    }
}

/// A running testbed; shuts down cleanly when dropped.
pub struct Testbed {
    _private: (),
}

impl Testbed {
    /// Binds, recovers `dbpath` if set, and starts serving on the current tokio runtime.
    pub async fn start(options: TestbedOptions) -> std::io::Result<Testbed> {
        let _ = options;
        todo!("server")
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        todo!("server")
    }

    /// `mongodb://127.0.0.1:PORT/?replicaSet=rs0` (host as advertised in `hello`).
    pub fn uri(&self) -> String {
        todo!("server")
    }

    /// Stops accepting, closes connections, flushes the journal.
    pub async fn shutdown(self) {
        todo!("server")
    }
}
