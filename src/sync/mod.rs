//! Two-way sync between a local and a remote deployment (`mongo-replicator sync`): one
//! one-way pipeline per direction (the tail's writers, each direction with its own
//! checkpoint), a guard per direction deciding per document from the agreed state
//! ([`guard`], [`version`], [`state`]), conflicts stored and resolved ([`conflicts`],
//! [`resolve`]), a reconciliation pass for first sync and lost history ([`reconcile`]), the
//! API ([`api`]) and the job that wires it ([`job`]).

pub mod api;
pub mod conflicts;
pub mod engine;
pub mod guard;
pub mod job;
pub mod metrics;
pub mod reconcile;
pub mod resolve;
pub mod state;
pub mod version;

use std::sync::{Arc, OnceLock};

/// The running sync, as the HTTP API finds it (empty unless `mongo-replicator sync` runs and
/// has connected both sides).
#[derive(Default)]
pub struct Hub {
    engine: OnceLock<Arc<engine::Engine>>,
}

impl Hub {
    pub fn engine(&self) -> Option<&Arc<engine::Engine>> {
        self.engine.get()
    }

    pub fn attach(&self, engine: Arc<engine::Engine>) {
        let _ = self.engine.set(engine);
    }
}
