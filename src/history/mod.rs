//! What the replicator did, kept across restarts (issue 12 `GET /api/v1/runs`): one record per
//! run ([`runs`]), kept beside the checkpoint ([`store`]). With `[history] enabled` (issue 14),
//! what the backup held: one entry per applied change ([`changes`]), read back as one
//! document's versions ([`audit`]) or as the backup's state at a time ([`restore`]; times as
//! users write them in [`at`]).

pub mod at;
pub mod audit;
pub mod changes;
mod record;
pub mod restore;
pub mod runs;
pub mod store;

pub use record::{Exit, Run};
pub use runs::{Recording, RunLog};
