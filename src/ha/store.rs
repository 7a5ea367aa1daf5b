//! The lease document on the target: one per source/target pair in collection `leases` of
//! `checkpoint.database`, `_id` like the checkpoint's (`"<source_db>-><target_db>"`). Every
//! change is one atomic update with a pipeline, its times taken from the server's `$$NOW`,
//! never from this process's clock:
//! - free (no document, or `expires` passed, and not reserved for another instance), or held
//!   by this instance under an epoch at or below `floor` (a checkpoint already carries a
//!   higher one): taken, with a new epoch;
//! - held by this instance and not expired: renewed (`expires` = now + lease), same epoch;
//! - otherwise unchanged.
//!
//! `ha.prefer_local_primary`: a standby next to the primary records a `handoff` request; the
//! holder, once it has stopped applying, releases the lease `reserved` for the requester for
//! one lease ([`LeaseStore::hand_over`]).

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

    /// This process's instance id (what a `handoff` names).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// One conditional acquire-or-renew; what the lease is afterwards.
    pub async fn attempt(&self, floor: i64) -> Result<Observed> {
        let expired = doc! {"$lt": [{"$ifNull": ["$expires", Bson::Null]}, "$$NOW"]};
        let mine = doc! {"$eq": ["$instance", &self.instance]};
        let reserved = doc! {"$and": [
            {"$gt": [{"$ifNull": ["$reserved_until", Bson::Null]}, "$$NOW"]},
            {"$ne": ["$reserved_for", &self.instance]},
        ]};
        let stale = doc! {"$lte": [{"$ifNull": ["$epoch", 0_i64]}, floor]};
        let take = doc! {"$or": [
            {"$and": [&expired, {"$not": [reserved]}]},
            {"$and": [&mine, stale]},
        ]};
        let renew = doc! {"$and": [&mine, {"$not": [&expired]}]};
        let until = doc! {"$add": ["$$NOW", self.lease_ms]};
        // `then` when taken, else the field as it is.
        let as_is = |field: &str, then: Bson| {
            Bson::Document(doc! {"$cond": [&take, then, format!("${field}")]})
        };
        let next_epoch = doc! {"$add": [{"$max": [{"$ifNull": ["$epoch", 0_i64]}, floor]}, 1_i64]};
        let handoff = doc! {"$cond": [&take, Bson::Null, "$handoff"]};
        let pipeline = vec![
            doc! {"$set": {
                "holder": as_is("holder", Bson::String(self.name.clone())),
                "instance": as_is("instance", Bson::String(self.instance.clone())),
                "epoch": as_is("epoch", Bson::Document(next_epoch)),
                "acquired": as_is("acquired", Bson::String("$$NOW".into())),
                "expires": {"$cond": [{"$or": [&take, renew]}, until, "$expires"]},
                "reserved_for": {"$cond": [&take, Bson::Null, "$reserved_for"]},
                "reserved_until": {"$cond": [&take, Bson::Null, "$reserved_until"]},
                "handoff": handoff,
            }},
            // Read back with the same clock: held now, and a request younger than a lease.
            doc! {"$set": {
                "live": {"$gt": ["$expires", "$$NOW"]},
                "handoff_fresh": {"$gt": [{"$add": ["$handoff.at", self.lease_ms]}, "$$NOW"]},
            }},
        ];
        let after = self
            .coll
            .find_one_and_update(doc! {"_id": &self.id}, pipeline)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "acquiring the ha lease", &e))?;
        let d = after.unwrap_or_default();
        let live = d.get_bool("live").unwrap_or(false);
        let handoff = d
            .get_document("handoff")
            .ok()
            .filter(|_| d.get_bool("handoff_fresh").unwrap_or(false))
            .and_then(|h| h.get_str("to").ok())
            .filter(|to| *to != self.instance)
            .map(str::to_string);
        Ok(Observed {
            mine: live && d.get_str("instance").ok() == Some(self.instance.as_str()),
            epoch: epoch_of(&d).unwrap_or(0),
            holder: d.get_str("holder").unwrap_or("").to_string(),
            handoff,
        })
    }

    /// Asks the holder (another instance, its lease live) to hand the lease to this one at its
    /// next renewal.
    pub async fn request_handoff(&self) -> Result<()> {
        let other_live = doc! {"$and": [
            {"$ne": ["$instance", &self.instance]},
            {"$gt": [{"$ifNull": ["$expires", Bson::Null]}, "$$NOW"]},
        ]};
        let request = doc! {"to": &self.instance, "name": &self.name, "at": "$$NOW"};
        self.coll
            .update_one(
                doc! {"_id": &self.id},
                vec![doc! {"$set": {"handoff": {"$cond": [other_live, request, "$handoff"]}}}],
            )
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "requesting the ha lease", &e))?;
        Ok(())
    }

    /// Gives the lease up at once (a clean stop): a standby takes over at its next attempt
    /// instead of waiting out the lease. Only this instance's own term is touched.
    pub async fn release(&self, epoch: i64) -> Result<()> {
        self.end_term(epoch, doc! {}).await
    }

    /// Gives the lease up reserved for instance `to` for one lease (it asked for it).
    pub async fn hand_over(&self, epoch: i64, to: &str) -> Result<()> {
        let reserve = doc! {
            "reserved_for": to,
            "reserved_until": {"$add": ["$$NOW", self.lease_ms]},
            "handoff": Bson::Null,
        };
        self.end_term(epoch, reserve).await
    }

    async fn end_term(&self, epoch: i64, mut set: Document) -> Result<()> {
        set.insert("expires", "$$NOW");
        self.coll
            .update_one(
                doc! {"_id": &self.id, "instance": &self.instance, "epoch": epoch},
                vec![doc! {"$set": set}],
            )
            .await
            .map_err(|e| Error::from_driver(Origin::Target, "releasing the ha lease", &e))?;
        Ok(())
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
