//! The checkpoint in the target deployment: collection `checkpoints` of `checkpoint.database`,
//! one document per pair, `_id = "<source_db>-><target_db>"`, the checkpoint's fields beside it.

use super::{decode, encode, CheckpointStore, Place};
use crate::error::{Error, Origin, Result};
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
}

impl TargetStore {
    pub fn new(client: Client, database: &str, source_db: &str, target_db: &str) -> Self {
        TargetStore {
            client,
            database: database.to_string(),
            id: format!("{source_db}->{target_db}"),
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
            found.map(|d| decode(d, &place)).transpose()
        }
        .boxed()
    }

    fn save<'a>(&'a self, cp: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        async move {
            let mut stored = doc! {"_id": self.id.as_str()};
            stored.extend(encode(cp)?);
            self.collection()
                .replace_one(doc! {"_id": self.id.as_str()}, stored)
                .upsert(true)
                .await
                .map_err(|e| Error::from_driver(Origin::Checkpoint, "writing checkpoint", &e))?;
            Ok(())
        }
        .boxed()
    }

    fn location(&self) -> String {
        format!("{}.{COLLECTION} _id \"{}\"", self.database, self.id)
    }
}
