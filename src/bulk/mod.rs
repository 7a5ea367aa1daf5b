//! Jobs over whole collections: the initial copy, the resync prune, `verify`, and what they
//! share (the merge join of two `_id`-ordered scans, the server's `_id` order).

pub mod align;
pub mod by_ids;
pub mod copy;
pub mod copy_write;
pub mod follow;
pub mod id_order;
pub mod index_specs;
pub mod listing;
pub mod merge_join;
pub mod resync;
pub mod verify;
pub mod widened;

pub use copy::CollectionSummary;
pub use verify::{verify_databases, VerifyReport};
