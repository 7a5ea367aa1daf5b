//! Where progress lives between runs: the resume token of the low watermark, the copy's
//! per-collection progress, and the unique indexes still to build. Stored on the target (a fresh
//! container resumes) or in a file. Contract: only acknowledged work is ever recorded, and a save
//! never moves stored progress backward (the caller saves watermarks, which only advance).

use crate::config::{CheckpointConfig, CheckpointStoreKind};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::state::pending_indexes::PendingIndex;
use bson::{doc, Bson, DateTime, Document};
use mongodb::Client;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Copy progress of one collection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CollectionCopy {
    /// `_id` of the last document known written to the target, in `_id` order.
    pub last_id: Option<Bson>,
    pub done: bool,
    pub documents: u64,
}

/// Everything needed to continue after a crash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Checkpoint {
    /// Resume token to tail from (the start point while copying).
    pub resume_token: Option<Document>,
    /// True while the initial copy is unfinished.
    pub copying: bool,
    /// Per-collection progress of an unfinished copy.
    #[serde(default)]
    pub copy: std::collections::BTreeMap<String, CollectionCopy>,
    /// Unique indexes to build once the tail has caught up.
    #[serde(default)]
    pub pending_indexes: Vec<PendingIndex>,
    /// The copy is a resync over an existing target: delete what the source no longer has.
    #[serde(default)]
    pub resync: bool,
    /// Written by a graceful stop after every writer drained: the target holds exactly the
    /// events up to `resume_token`, so the next tail needs no replay precautions.
    #[serde(default)]
    pub clean: bool,
    /// Keys a fetch found gone, waiting for the event that explains it
    /// ([`crate::state::GoneKeys`]): `[{collection, key}]`.
    #[serde(default)]
    pub unresolved_fetches: Vec<Document>,
    pub updated_at: Option<DateTime>,
}

/// Backing store of the checkpoint for one source-db -> target-db pair.
pub enum CheckpointStore {
    Target {
        client: Client,
        database: String,
        id: String,
    },
    File {
        path: PathBuf,
    },
}

const COLLECTION: &str = "checkpoints";

impl CheckpointStore {
    pub fn new(
        cfg: &CheckpointConfig,
        target: &Client,
        source_db: &str,
        target_db: &str,
    ) -> Result<Self> {
        Ok(match cfg.store {
            CheckpointStoreKind::Target => CheckpointStore::Target {
                client: target.clone(),
                database: cfg.database.clone(),
                id: format!("{source_db}->{target_db}"),
            },
            CheckpointStoreKind::File => CheckpointStore::File {
                path: cfg.path.clone().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        Class::Fatal,
                        "checkpoint.path",
                        "required when checkpoint.store = \"file\"",
                    )
                })?,
            },
        })
    }

    pub async fn load(&self) -> Result<Option<Checkpoint>> {
        match self {
            CheckpointStore::Target {
                client,
                database,
                id,
            } => {
                let coll = client.database(database).collection::<Document>(COLLECTION);
                let found = coll.find_one(doc! {"_id": id}).await.map_err(|e| {
                    Error::from_driver(Origin::Checkpoint, "reading checkpoint", &e)
                })?;
                found.map(from_stored).transpose()
            }
            CheckpointStore::File { path } => match tokio::fs::read(path).await {
                Ok(bytes) => {
                    let d = Document::from_reader(&mut bytes.as_slice()).map_err(|e| {
                        file_error(format!(
                            "checkpoint file {} is corrupt ({e}); remove it to start over",
                            path.display()
                        ))
                    })?;
                    from_stored(d).map(Some)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(file_error(format!("reading {}: {e}", path.display()))),
            },
        }
    }

    pub async fn save(&self, cp: &Checkpoint) -> Result<()> {
        let mut cp = cp.clone();
        cp.updated_at = Some(DateTime::now());
        let body = bson::to_document(&cp).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "encoding checkpoint",
                e.to_string(),
            )
        })?;
        match self {
            CheckpointStore::Target {
                client,
                database,
                id,
            } => {
                let coll = client.database(database).collection::<Document>(COLLECTION);
                let mut stored = doc! {"_id": id.as_str()};
                stored.extend(body);
                coll.replace_one(doc! {"_id": id.as_str()}, stored)
                    .upsert(true)
                    .await
                    .map_err(|e| {
                        Error::from_driver(Origin::Checkpoint, "writing checkpoint", &e)
                    })?;
                Ok(())
            }
            CheckpointStore::File { path } => {
                let mut bytes = Vec::new();
                body.to_writer(&mut bytes)
                    .map_err(|e| file_error(e.to_string()))?;
                let tmp = path.with_extension("tmp");
                tokio::fs::write(&tmp, &bytes)
                    .await
                    .map_err(|e| file_error(format!("writing {}: {e}", tmp.display())))?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .map_err(|e| file_error(format!("renaming to {}: {e}", path.display())))?;
                Ok(())
            }
        }
    }
}

fn from_stored(mut d: Document) -> Result<Checkpoint> {
    d.remove("_id");
    bson::from_document(d).map_err(|e| {
        Error::malformed(
            Origin::Checkpoint,
            "reading checkpoint",
            format!("unreadable checkpoint ({e}); delete it to start over"),
        )
    })
}

fn file_error(msg: String) -> Error {
    Error::new(ErrorKind::File, Class::Transient, "checkpoint file", msg).at(Origin::Checkpoint)
}
