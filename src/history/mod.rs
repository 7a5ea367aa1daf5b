//! What the replicator did, kept across restarts (issue 12 `GET /api/v1/runs`): one record per
//! run ([`runs`]), kept beside the checkpoint ([`store`]).

pub mod at;
pub mod audit;
pub mod changes;
mod record;
pub mod restore;
pub mod runs;
pub mod store;

pub use record::{Exit, Run};
pub use runs::{Recording, RunLog};
