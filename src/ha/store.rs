//! The lease document on the target: one per source/target pair in collection `leases` of
//! `checkpoint.database`, `_id` like the checkpoint's (`"<source_db>-><target_db>"`). Every
//! change is one atomic `findAndModify` with an update pipeline, its times taken from the
//! server's `$$NOW`, never from this process's clock:
//! - free (no document, or `expires` passed), or held by this instance under an epoch at or
//!   below `floor` (a checkpoint already carries a higher one): taken, with a new epoch;
//! - held by this instance: renewed (`expires` = now + lease), same epoch;
//! - held by another instance and not expired: unchanged.

use super::lease::Observed;
use crate::error::{Error, Origin, Result};
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Client, Collection};

pub const COLLECTION: &str = "leases";

pub struct LeaseStore {
    coll: Collection<Document>,
    id: String,
    /// `ha.name`, shown as the holder.
    name: String,
    /// Tells this process apart from another with the same name (a restarted pod).
    instance: String,
    lease_ms: i64,
}

impl LeaseStore {
    pub fn new(
        client: &Client,
        database: &str,
        pair: &str,
        name: &str,
        lease_seconds: u64,
    ) -> Self {
        LeaseStore {
            coll: client.database(database).collection(COLLECTION),
            id: pair.to_string(),
            name: name.to_string(),
            instance: ObjectId::new().to_hex(),
            lease_ms: i64::try_from(lease_seconds * 1000).unwrap_or(i64::MAX),
        }
    }

    /// One conditional acquire-or-renew; what the lease is afterwards.
    pub async fn attempt(&self, floor: i64) -> Result<Observed> {
        let expired = doc! {"$lt": [{"$ifNull": ["$expires", Bson::Null]}, "$$NOW"]};
        let mine = doc! {"$eq": ["$instance", &self.instance]};
        let stale = doc! {"$lte": [{"$ifNull": ["$epoch", 0_i64]}, floor]};
        let take = doc! {"$or": [expired, {"$and": [mine.clone(), stale]}]};
        let until = doc! {"$add": ["$$NOW", self.lease_ms]};
        let pick = |then: Bson, keep: &str| -> Bson {
            Bson::Document(
                doc! {"$cond": [&take, then, {"$cond": [&mine, keep_or(keep, &until), format!("${keep}")]}]},
            )
        };
        let next_epoch = doc! {"$add": [{"$max": [{"$ifNull": ["$epoch", 0_i64]}, floor]}, 1_i64]};
        let pipeline = vec![doc! {"$set": {
            "holder": pick(Bson::String(self.name.clone()), "holder"),
            "instance": pick(Bson::String(self.instance.clone()), "instance"),
            "epoch": pick(Bson::Document(next_epoch), "epoch"),
            "acquired": pick(Bson::String("$$NOW".into()), "acquired"),
            "expires": pick(Bson::Document(until.clone()), "expires"),
        }}];
        let after = self
            .coll
            .find_one_and_update(doc! {"_id": &self.id}, pipeline)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "acquiring the ha lease", &e))?;
        let d = after.unwrap_or_default();
        Ok(Observed {
            mine: d.get_str("instance").ok() == Some(self.instance.as_str()),
            epoch: epoch_of(&d).unwrap_or(0),
            holder: d.get_str("holder").unwrap_or("").to_string(),
        })
    }

    /// Gives the lease up at once (a clean stop): a standby takes over at its next attempt
    /// instead of waiting out the lease. Only this instance's own term is touched.
    pub async fn release(&self, epoch: i64) -> Result<()> {
        self.coll
            .update_one(
                doc! {"_id": &self.id, "instance": &self.instance, "epoch": epoch},
                vec![doc! {"$set": {"expires": "$$NOW"}}],
            )
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "releasing the ha lease", &e))?;
        Ok(())
    }
}

/// A renewal by the holder moves `expires`; every other kept field stays as it is.
fn keep_or(field: &str, until: &Document) -> Bson {
    if field == "expires" {
        Bson::Document(until.clone())
    } else {
        Bson::String(format!("${field}"))
    }
}

/// An epoch stored as any integer type.
pub fn epoch_of(d: &Document) -> Option<i64> {
    match d.get("epoch")? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        _ => None,
    }
}
