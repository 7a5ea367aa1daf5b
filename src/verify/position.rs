//! Where the sweeps are, persisted so a restart resumes the sweep in progress: one document
//! per source/target pair in collection `verify_sweeps` of `checkpoint.database`, or the file
//! `<checkpoint.path>` with the extension `.verify.bson` beside a file checkpoint. Saved after
//! each range (at most every [`SAVE_EVERY`]); a lost save only repeats a few ranges.

use crate::config::{CheckpointStoreKind, Config};
use crate::error::{Error, ErrorKind, Origin, Result};
use bson::{doc, Bson, DateTime, Document};
use mongodb::Client;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The collection of the sweep positions in `checkpoint.database`.
pub const COLLECTION: &str = "verify_sweeps";
/// Saves at most this often.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The sweep in progress and the last one finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SweepPosition {
    /// Sweeps started so far (1 for the first).
    pub sweep: u64,
    /// The collection being walked (`None`: the sweep starts from the first collection).
    pub collection: Option<String>,
    /// The last `_id` compared in it (`None`: from its start).
    pub after: Option<Bson>,
    /// Collections of this sweep done so far.
    pub collections_done: Vec<String>,
    /// Documents compared in this sweep so far.
    pub documents: u64,
    pub last_full_sweep: Option<DateTime>,
}

/// Where positions are kept.
pub enum PositionStore {
    Target {
        client: Client,
        database: String,
        id: String,
    },
    File(PathBuf),
}

impl PositionStore {
    pub fn open(cfg: &Config, target: &Client) -> PositionStore {
        match (&cfg.checkpoint.store, &cfg.checkpoint.path) {
            (CheckpointStoreKind::File, Some(path)) => {
                PositionStore::File(path.with_extension("verify.bson"))
            }
            _ => PositionStore::Target {
                client: target.clone(),
                database: cfg.checkpoint.database.clone(),
                id: crate::state::store::pair_id(&cfg.source.database, &cfg.target.database),
            },
        }
    }

    pub async fn load(&self) -> Result<Option<SweepPosition>> {
        let found: Option<Document> = match self {
            PositionStore::Target {
                client,
                database,
                id,
            } => client
                .database(database)
                .collection::<Document>(COLLECTION)
                .find_one(doc! {"_id": id.as_str()})
                .await
                .map_err(|e| {
                    Error::from_driver(Origin::Checkpoint, "reading the sweep position", &e)
                })?,
            PositionStore::File(path) => match std::fs::read(path) {
                Ok(bytes) => Some(bson::from_slice(&bytes).map_err(|e| bad(e.to_string()))?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(bad(e.to_string())),
            },
        };
        match found {
            None => Ok(None),
            Some(mut d) => {
                d.remove("_id");
                Ok(Some(
                    bson::from_document(d).map_err(|e| bad(e.to_string()))?,
                ))
            }
        }
    }

    pub async fn save(&self, p: &SweepPosition) -> Result<()> {
        let d = bson::to_document(p).map_err(|e| bad(e.to_string()))?;
        match self {
            PositionStore::Target {
                client,
                database,
                id,
            } => {
                client
                    .database(database)
                    .collection::<Document>(COLLECTION)
                    .replace_one(doc! {"_id": id.as_str()}, d)
                    .upsert(true)
                    .await
                    .map_err(|e| {
                        Error::from_driver(Origin::Checkpoint, "saving the sweep position", &e)
                    })?;
            }
            PositionStore::File(path) => {
                let tmp = path.with_extension("verify.tmp");
                std::fs::write(&tmp, bson::to_vec(&d).map_err(|e| bad(e.to_string()))?)
                    .and_then(|_| std::fs::rename(&tmp, path))
                    .map_err(|e| bad(e.to_string()))?;
            }
        }
        Ok(())
    }
}

fn bad(message: String) -> Error {
    Error::new(
        ErrorKind::Internal,
        crate::error::Class::Transient,
        "sweep position",
        message,
    )
    .at(Origin::Checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_position_loads_back_with_a_mixed_type_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = PositionStore::File(dir.path().join("cp.verify.bson"));
        assert_eq!(store.load().await.unwrap(), None);
        let p = SweepPosition {
            sweep: 3,
            collection: Some("orders".into()),
            after: Some(Bson::Int64(41)),
            collections_done: vec!["a".into()],
            documents: 12,
            last_full_sweep: Some(DateTime::from_millis(1_000)),
        };
        store.save(&p).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(p));
    }
}
