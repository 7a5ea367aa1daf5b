//! The checkpoint in the target deployment: collection `checkpoints` of `checkpoint.database`,
//! one document per pair, `_id = "<source_db>-><target_db>"`, the checkpoint's fields beside it.
//! With `ha.enabled` the document also carries the `epoch` of the instance that wrote it, and a
//! save is conditional on it ([`crate::ha::Fence`]): an older epoch never overwrites a newer one.

use super::{decode, encode, CheckpointStore, Place};
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::ha::Fence;
use crate::state::Checkpoint;
use bson::{doc, Document};
use futures::future::BoxFuture;
use futures::FutureExt;
use mongodb::{Client, Collection};

const COLLECTION: &str = "checkpoints";

/// A replace-with-upsert of one document: a save is atomic, so a load sees one whole save.
pub struct TargetStore {
    client: Client,
    database: String,
    id: String,
    fence: Option<Fence>,
}

impl TargetStore {
    pub fn new(client: Client, database: &str, source_db: &str, target_db: &str) -> Self {
        TargetStore {
            client,
            database: database.to_string(),
            id: pair_id(source_db, target_db),
            fence: None,
        }
    }

    /// Saves conditional on `fence`'s epoch (the active term of `ha`).
    pub fn fenced(mut self, fence: Option<Fence>) -> Self {
        self.fence = fence;
        self
    }

    /// Matches the checkpoint only when no newer epoch wrote it.
    fn filter(&self) -> Document {
        match &self.fence {
            None => doc! {"_id": self.id.as_str()},
            Some(f) => doc! {"_id": self.id.as_str(), "$or": [
                {"epoch": {"$exists": false}},
                {"epoch": {"$lte": f.epoch}},
            ]},
        }
    }

    /// Whether a checkpoint exists, and its epoch (`i64::MAX` when unreadable: still newer).
    async fn stored_epoch(&self) -> Option<i64> {
        let found = self
            .collection()
            .find_one(doc! {"_id": self.id.as_str()})
            .await;
        match found {
            Ok(None) => None,
            Ok(Some(d)) => Some(crate::ha::store::epoch_of(&d).unwrap_or(i64::MAX)),
            Err(_) => Some(i64::MAX),
        }
    }

    fn collection(&self) -> Collection<Document> {
        self.client.database(&self.database).collection(COLLECTION)
    }
}

impl CheckpointStore for TargetStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Checkpoint>>> {
        async move {
            let found = self
                .collection()
                .find_one(doc! {"_id": self.id.as_str()})
                .await
                .map_err(|e| Error::from_driver(Origin::Checkpoint, "reading checkpoint", &e))?;
            let name = self.location();
            let place = Place {
                key: "checkpoint.database",
                name: &name,
            };
            let Some(mut found) = found else {
                return Ok(None);
            };
            let stored = crate::ha::store::epoch_of(&found);
            found.remove("epoch");
            if let (Some(f), Some(e)) = (&self.fence, stored) {
                if e > f.epoch {
                    return Err(f.refused(e));
                }
            }
            decode(found, &place).map(Some)
        }
        .boxed()
    }

    fn save<'a>(&'a self, cp: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        async move {
            let mut stored = doc! {"_id": self.id.as_str()};
            stored.extend(encode(cp)?);
            if let Some(f) = &self.fence {
                stored.insert("epoch", f.epoch);
            }
            let saved = self
                .collection()
                .replace_one(self.filter(), stored)
                .upsert(true)
                .await;
            let saved = saved
                .map(drop)
                .map_err(|e| Error::from_driver(Origin::Checkpoint, "writing checkpoint", &e));
            match (saved, &self.fence) {
                // The filter missed a newer epoch's document; the upsert then collides on `_id`.
                (Err(e), Some(f)) if e.kind == ErrorKind::DuplicateKey => {
                    Err(f.refused(self.stored_epoch().await.unwrap_or(i64::MAX)))
                }
                (r, _) => r,
            }
        }
        .boxed()
    }

    /// With a fence: claims the checkpoint for this epoch before anything is applied, so a
    /// stale instance's next save is refused from now on.
    fn check_writable(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            let Some(f) = &self.fence else {
                return Ok(());
            };
            let claimed = self
                .collection()
                .update_one(self.filter(), doc! {"$set": {"epoch": f.epoch}})
                .await
                .map_err(|e| Error::from_driver(Origin::Checkpoint, "claiming checkpoint", &e))?;
            if claimed.matched_count > 0 {
                return Ok(());
            }
            // Nothing matched and a checkpoint exists: a newer epoch wrote it.
            match self.stored_epoch().await {
                Some(stored) => Err(f.refused(stored)),
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn location(&self) -> String {
        format!("{}.{COLLECTION} _id \"{}\"", self.database, self.id)
    }
}

/// The `_id` of one source/target pair's checkpoint (and of its `ha` lease).
pub fn pair_id(source_db: &str, target_db: &str) -> String {
    format!("{source_db}->{target_db}")
}
