//! `sync_state` (in `sync.state_database`, local side): per document the version both sides
//! last agreed on. `{_id: {c: collection, i: <_id>}, h: <hash> | null}`; `null` is a
//! tombstone (both sides had it deleted), kept so a late delete event stays an echo.

use super::version::{id_key, Agreed, Version};
use crate::error::{Error, Origin, Result};
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::{Collection, Database};
use std::collections::HashMap;

pub const STATE_COLLECTION: &str = "sync_state";

#[derive(Clone)]
pub struct StateStore {
    coll: Collection<Document>,
    db: Database,
}

fn state_id(collection: &str, id: &Bson) -> Bson {
    Bson::Document(doc! { "c": collection, "i": id.clone() })
}

impl StateStore {
    pub fn new(db: Database) -> Self {
        StateStore {
            coll: db.collection(STATE_COLLECTION),
            db,
        }
    }

    /// The agreed state of `ids` of `collection`, by [`id_key`] (one `$in` query).
    pub async fn get_many(&self, collection: &str, ids: &[Bson]) -> Result<HashMap<String, Agreed>> {
        let wanted: Vec<Bson> = ids.iter().map(|i| state_id(collection, i)).collect();
        let mut out: HashMap<String, Agreed> =
            ids.iter().map(|i| (id_key(i), Agreed::Unknown)).collect();
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut cursor = self
            .coll
            .find(doc! { "_id": { "$in": wanted } })
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "reading sync_state", &e))?;
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "reading sync_state", &e))?
        {
            if let Some((id, agreed)) = parse(&d) {
                out.insert(id_key(&id), agreed);
            }
        }
        Ok(out)
    }

    /// Every agreed state of `collection` (the reconciliation pass).
    pub async fn all_of(&self, collection: &str) -> Result<HashMap<String, Agreed>> {
        let mut cursor = self
            .coll
            .find(doc! { "_id.c": collection })
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "reading sync_state", &e))?;
        let mut out = HashMap::new();
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "reading sync_state", &e))?
        {
            if let Some((id, agreed)) = parse(&d) {
                out.insert(id_key(&id), agreed);
            }
        }
        Ok(out)
    }

    /// Records that both sides now hold `version` of each document (one `update` command).
    pub async fn set_many(&self, collection: &str, entries: &[(Bson, Option<Version>)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let updates: Vec<Document> = entries
            .iter()
            .map(|(id, v)| {
                let h = v.clone().map_or(Bson::Null, Bson::String);
                doc! { "q": { "_id": state_id(collection, id) }, "u": { "_id": state_id(collection, id), "h": h }, "upsert": true }
            })
            .collect();
        let reply = self
            .db
            .run_command(doc! { "update": STATE_COLLECTION, "updates": updates, "ordered": true, "writeConcern": { "w": "majority" } })
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "writing sync_state", &e))?;
        crate::apply::check_write_reply("update", STATE_COLLECTION, &reply)
    }
}

fn parse(d: &Document) -> Option<(Bson, Agreed)> {
    let id = d.get_document("_id").ok()?.get("i")?.clone();
    let agreed = match d.get("h") {
        Some(Bson::String(h)) => Agreed::At(Some(h.clone())),
        _ => Agreed::At(None),
    };
    Some((id, agreed))
}
