//! What the replicator knows about its own progress, and what survives a crash: the watermark
//! over sequence numbers, the live position (lag, last applied), the checkpoint, its store, and
//! the checkpointer, the only owner of checkpoint mutation.

pub mod checkpoint;
pub mod checkpointer;
pub mod gone_keys;
pub mod pending_indexes;
pub mod position;
pub mod watermark;

pub use checkpoint::{Checkpoint, CheckpointStore, CollectionCopy};
pub use checkpointer::Checkpointer;
pub use gone_keys::GoneKeys;
pub use position::Position;
pub use watermark::Watermark;
