//! `sync_conflicts` (in `sync.state_database`): every conflict found, never lost; open ones
//! block their documents (left as they are on each side) until resolved. Kept in memory too
//! (the open set is read once at start), so the writers' check costs no query.

use crate::error::{Error, Origin, Result};
use bson::{doc, oid::ObjectId, Bson, Document};
use futures::TryStreamExt;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub const CONFLICTS_COLLECTION: &str = "sync_conflicts";

/// What kind of conflict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Changed on both sides since they last agreed (update/update, update/delete), or
    /// different content under one `_id` when they never agreed (first sync).
    BothChanged,
    /// A write refused by the other side's unique index: two documents, one value.
    UniqueIndex,
}

/// One conflict, as stored. `local`/`remote` are the versions found (`None`: deleted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Conflict {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub collection: String,
    pub kind: Kind,
    /// The local document's `_id` (both-changed: the one document's `_id`).
    pub local_id: Bson,
    /// The remote document's `_id` (unique index: the other document).
    pub remote_id: Bson,
    /// The unique field (unique index conflicts).
    pub field: Option<String>,
    pub local: Option<Document>,
    pub remote: Option<Document>,
    /// Wall times (ms, each side's clock) of the change events seen, for `newest`.
    pub local_at: Option<i64>,
    pub remote_at: Option<i64>,
    pub detected_at: bson::DateTime,
    pub resolved: bool,
    pub resolution: Option<String>,
    pub resolved_at: Option<bson::DateTime>,
}

impl Conflict {
    /// The `(collection, id key)` pairs this conflict blocks.
    pub fn blocked(&self) -> Vec<(String, String)> {
        let mut keys = vec![(
            self.collection.clone(),
            super::version::id_key(&self.local_id),
        )];
        if self.remote_id != self.local_id {
            keys.push((
                self.collection.clone(),
                super::version::id_key(&self.remote_id),
            ));
        }
        keys
    }

    /// What the API shows: values only here (the route is authenticated).
    pub fn to_json(&self) -> serde_json::Value {
        let ext = |d: &Option<Document>| {
            d.clone().map_or(serde_json::Value::Null, |d| {
                Bson::Document(d).into_relaxed_extjson()
            })
        };
        let field_value = |d: &Option<Document>| match (&self.field, d) {
            (Some(f), Some(d)) => d
                .get(f)
                .cloned()
                .map_or(serde_json::Value::Null, Bson::into_relaxed_extjson),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "id": self.id.to_hex(),
            "collection": self.collection,
            "kind": self.kind,
            "local_id": self.local_id.clone().into_canonical_extjson(),
            "remote_id": self.remote_id.clone().into_canonical_extjson(),
            "field": self.field,
            "local_value": field_value(&self.local),
            "remote_value": field_value(&self.remote),
            "local": ext(&self.local),
            "remote": ext(&self.remote),
            "detected_at": self.detected_at.try_to_rfc3339_string().unwrap_or_default(),
            "resolved": self.resolved,
            "resolution": self.resolution,
        })
    }
}

#[derive(Clone)]
pub struct ConflictStore {
    coll: Collection<Conflict>,
}

fn err(context: &'static str) -> impl Fn(mongodb::error::Error) -> Error {
    move |e| Error::from_driver(Origin::Checkpoint, context, &e)
}

impl ConflictStore {
    pub fn new(db: &mongodb::Database) -> Self {
        ConflictStore {
            coll: db.collection(CONFLICTS_COLLECTION),
        }
    }

    /// Conflicts, newest first: open ones only unless `all`, of one collection when given.
    pub async fn list(&self, all: bool, collection: Option<&str>) -> Result<Vec<Conflict>> {
        let mut filter = Document::new();
        if !all {
            filter.insert("resolved", false);
        }
        if let Some(c) = collection {
            filter.insert("collection", c);
        }
        self.coll
            .find(filter)
            .sort(doc! { "detected_at": -1 })
            .await
            .map_err(err("reading sync_conflicts"))?
            .try_collect()
            .await
            .map_err(err("reading sync_conflicts"))
    }

    pub async fn get(&self, id: ObjectId) -> Result<Option<Conflict>> {
        self.coll
            .find_one(doc! { "_id": id })
            .await
            .map_err(err("reading sync_conflicts"))
    }

    /// Stores `c`, or refreshes the open conflict on the same documents (its versions and
    /// times): one open conflict per document pair. True when it is new.
    pub async fn record(&self, c: &Conflict) -> Result<bool> {
        let same = doc! { "resolved": false, "collection": &c.collection, "kind": bson::to_bson(&c.kind).unwrap_or(Bson::Null), "local_id": c.local_id.clone(), "remote_id": c.remote_id.clone() };
        let existing = self
            .coll
            .find_one(same.clone())
            .await
            .map_err(err("reading sync_conflicts"))?;
        match existing {
            Some(old) => {
                let mut set = doc! {};
                set.insert("local", bson::to_bson(&c.local).unwrap_or(Bson::Null));
                set.insert("remote", bson::to_bson(&c.remote).unwrap_or(Bson::Null));
                if let Some(t) = c.local_at.or(old.local_at) {
                    set.insert("local_at", t);
                }
                if let Some(t) = c.remote_at.or(old.remote_at) {
                    set.insert("remote_at", t);
                }
                self.coll
                    .update_one(doc! { "_id": old.id }, doc! { "$set": set })
                    .await
                    .map_err(err("writing sync_conflicts"))?;
                Ok(false)
            }
            None => {
                self.coll
                    .insert_one(c)
                    .await
                    .map_err(err("writing sync_conflicts"))?;
                Ok(true)
            }
        }
    }

    pub async fn mark_resolved(&self, id: ObjectId, resolution: &str) -> Result<()> {
        self.coll
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "resolved": true, "resolution": resolution, "resolved_at": bson::DateTime::now() } },
            )
            .await
            .map_err(err("writing sync_conflicts"))?;
        Ok(())
    }

    /// The documents open conflicts block.
    pub async fn open_keys(&self) -> Result<HashSet<(String, String)>> {
        Ok(self
            .list(false, None)
            .await?
            .iter()
            .flat_map(Conflict::blocked)
            .collect())
    }
}
