//! What the replicator knows about its own progress, and what survives a crash: the watermark
//! over sequence numbers, the live position (lag, last applied), the checkpoint, its store, where
//! a job starts from it, and the checkpointer, the only owner of checkpoint mutation.

pub mod checkpoint;
pub mod checkpointer;
pub mod gone_keys;
pub mod index_list;
pub mod pending_indexes;
pub mod position;
pub mod start;
pub mod store;
pub mod ttl_indexes;
pub mod watermark;

pub use checkpoint::{Checkpoint, CollectionCopy, SourceIdentity};
pub use checkpointer::Checkpointer;
pub use gone_keys::GoneKeys;
pub use position::Position;
pub use store::CheckpointStore;
pub use watermark::Watermark;
