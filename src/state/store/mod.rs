//! Where the checkpoint lives between runs, behind one trait: the target database (a fresh
//! container resumes from the backup itself), a file, or memory (tests: the checkpointer, the
//! start decision and property tests run without a server). [`open`] picks one from the config.

mod file;
mod memory;
mod target;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use target::{pair_id, TargetStore};

use crate::config::{CheckpointStoreKind, Config};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::state::checkpoint::SCHEMA_VERSION;
use crate::state::Checkpoint;
use bson::{Bson, DateTime, Document};
use futures::future::BoxFuture;
use futures::FutureExt;
use mongodb::Client;
use std::sync::Arc;

/// Durable home of the checkpoint of one source-db -> target-db pair.
///
/// Contract (as supabase/etl's state store states it):
/// - only acknowledged work is recorded: callers save the watermark, which covers only events
///   the target acknowledged, and copy progress the target acknowledged;
/// - a save never moves stored progress backward: the watermark only advances, and the one
///   deliberate reset (a new copy) writes a new start point before it copies anything;
/// - [`load`](Self::load) returns what the last successful [`save`](Self::save) wrote, whole:
///   a failed or interrupted save leaves the previous checkpoint readable, never a mix.
///
/// Methods return boxed futures so the checkpointer can hold an `Arc<dyn CheckpointStore>`.
pub trait CheckpointStore: Send + Sync {
    /// The stored checkpoint, `None` when nothing was ever saved.
    fn load(&self) -> BoxFuture<'_, Result<Option<Checkpoint>>>;

    /// Replaces the stored checkpoint with `cp`, stamped with the time of the save.
    fn save<'a>(&'a self, cp: &'a Checkpoint) -> BoxFuture<'a, Result<()>>;

    /// Where the checkpoint is, for messages (a path, a collection and `_id`).
    fn location(&self) -> String;

    /// Fails (a configuration error naming the place) when a save could never succeed, so a
    /// start with an unusable place stops at once instead of failing at the first save.
    fn check_writable(&self) -> BoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed()
    }
}

/// Where a store keeps its checkpoint, for its errors: the config key and a description.
pub(crate) struct Place<'a> {
    pub key: &'static str,
    pub name: &'a str,
}

impl Place<'_> {
    /// A configuration error about this checkpoint: no retry fixes it.
    pub fn error(&self, message: String) -> Error {
        Error::new(ErrorKind::Config, Class::Fatal, self.key, message).at(Origin::Checkpoint)
    }
}

/// The store `checkpoint.store` names, for this config's source -> target pair.
pub fn open(cfg: &Config, target: &Client) -> Result<Arc<dyn CheckpointStore>> {
    open_fenced(cfg, target, None)
}

/// [`open`], the target store's saves conditional on `fence` (an `ha` term).
pub fn open_fenced(
    cfg: &Config,
    target: &Client,
    fence: Option<crate::ha::Fence>,
) -> Result<Arc<dyn CheckpointStore>> {
    Ok(match cfg.checkpoint.store {
        CheckpointStoreKind::Target => Arc::new(
            TargetStore::new(
                target.clone(),
                &cfg.checkpoint.database,
                &cfg.source.database,
                &cfg.target.database,
            )
            .fenced(fence),
        ),
        CheckpointStoreKind::File => Arc::new(FileStore::new(
            cfg.checkpoint.path.clone().ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    Class::Fatal,
                    "checkpoint.path",
                    "required when checkpoint.store = \"file\"",
                )
            })?,
        )),
    })
}

/// `cp` as stored, stamped with the time of this save and the schema version.
fn encode(cp: &Checkpoint) -> Result<Document> {
    let mut cp = cp.clone();
    cp.updated_at = Some(DateTime::now());
    let mut d = bson::to_document(&cp).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "encoding checkpoint",
            e.to_string(),
        )
    })?;
    d.insert("schema_version", SCHEMA_VERSION);
    Ok(d)
}

/// A stored document back into a checkpoint (the target store's `_id` is not part of it): no
/// version is 1; a newer version than [`SCHEMA_VERSION`] or an unreadable document is a
/// configuration error naming `place`.
fn decode(mut d: Document, place: &Place<'_>) -> Result<Checkpoint> {
    d.remove("_id");
    let version = match d.remove("schema_version") {
        None => 1,
        Some(Bson::Int32(v)) => i64::from(v),
        Some(Bson::Int64(v)) => v,
        Some(_) => {
            return Err(place.error(format!(
                "the checkpoint {} has a schema_version that is not a number; delete it to start over with a copy",
                place.name
            )))
        }
    };
    if version > SCHEMA_VERSION {
        return Err(place.error(format!(
            "the checkpoint {} has schema version {version}, newer than this mongo-replicator reads ({SCHEMA_VERSION}); run the newer version that wrote it, or delete the checkpoint to start over with a copy",
            place.name
        )));
    }
    bson::from_document(d).map_err(|e| {
        place.error(format!(
            "the checkpoint {} is unreadable ({e}); delete it to start over with a copy",
            place.name
        ))
    })
}
