//! `sync_state` (in `sync.state_database`, local side): per document the version both sides
//! last agreed on. `{_id: {c: collection, i: <_id>}, h: <hash> | null}`; `null` is a
//! tombstone (both sides had it deleted), kept so a late delete event stays an echo.
//!
//! A write to one side is announced first (`p`: the version, `pt`: the side it goes to) and
//! made agreed after the side acknowledged it (the whole record replaced, `p` gone): after a
//! kill -9 between the two, the side holding the announced version shows the write happened
//! ([`Record::effective`]), so it is neither replayed over a newer change nor a conflict.

use super::engine::Side;
use super::version::{id_key, Agreed, Version};
use crate::error::{Error, Origin, Result};
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::{Collection, Database};
use std::collections::HashMap;

pub const STATE_COLLECTION: &str = "sync_state";

/// One document's state: agreed, and a write to one side announced but not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub agreed: Agreed,
    pub pending: Option<(Side, Option<Version>)>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            agreed: Agreed::Unknown,
            pending: None,
        }
    }
}

impl Record {
    /// The agreed version given what each side holds now: the announced one once the side it
    /// went to holds it (the write happened), else the recorded one.
    pub fn effective(&self, on: impl Fn(Side) -> Option<Version>) -> Agreed {
        match &self.pending {
            Some((to, v)) if on(*to) == *v => Agreed::At(v.clone()),
            _ => self.agreed.clone(),
        }
    }
}

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
    pub async fn get_many(
        &self,
        collection: &str,
        ids: &[Bson],
    ) -> Result<HashMap<String, Record>> {
        let wanted: Vec<Bson> = ids.iter().map(|i| state_id(collection, i)).collect();
        let mut out: HashMap<String, Record> =
            ids.iter().map(|i| (id_key(i), Record::default())).collect();
        if wanted.is_empty() {
            return Ok(out);
        }
        out.extend(self.read(doc! { "_id": { "$in": wanted } }).await?);
        Ok(out)
    }

    /// The records `filter` matches, by [`id_key`].
    async fn read(&self, filter: Document) -> Result<HashMap<String, Record>> {
        let e = |e: mongodb::error::Error| {
            Error::from_driver(Origin::Checkpoint, "reading sync_state", &e)
        };
        let mut cursor = self.coll.find(filter).await.map_err(e)?;
        let mut out = HashMap::new();
        while let Some(d) = cursor.try_next().await.map_err(e)? {
            if let Some((id, record)) = parse(&d) {
                out.insert(id_key(&id), record);
            }
        }
        Ok(out)
    }

    /// Records that both sides now hold `version` of each document (one `update` command).
    pub async fn set_many(
        &self,
        collection: &str,
        entries: &[(Bson, Option<Version>)],
    ) -> Result<()> {
        self.upsert_each(collection, entries, |sid, h| doc! { "_id": sid, "h": h })
            .await
    }

    /// Announces writes of `version` to `side` before they are made.
    pub async fn announce(
        &self,
        collection: &str,
        side: Side,
        entries: &[(Bson, Option<Version>)],
    ) -> Result<()> {
        self.upsert_each(collection, entries, |_, p| {
            doc! { "$set": { "p": p, "pt": side.as_str() } }
        })
        .await
    }

    /// One upsert per entry, its update made by `u` from the record's `_id` and the version
    /// (`null`: deleted).
    async fn upsert_each(
        &self,
        collection: &str,
        entries: &[(Bson, Option<Version>)],
        u: impl Fn(Bson, Bson) -> Document,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let updates: Vec<Document> = entries
            .iter()
            .map(|(id, v)| {
                let v = v.clone().map_or(Bson::Null, Bson::String);
                let sid = state_id(collection, id);
                doc! { "q": { "_id": sid.clone() }, "u": u(sid, v), "upsert": true }
            })
            .collect();
        self.send(updates).await
    }

    /// One `update` command, majority-acknowledged.
    async fn send(&self, updates: Vec<Document>) -> Result<()> {
        let reply = self
            .db
            .run_command(doc! { "update": STATE_COLLECTION, "updates": updates, "ordered": true, "writeConcern": { "w": "majority" } })
            .await
            .map_err(|e| Error::from_driver(Origin::Checkpoint, "writing sync_state", &e))?;
        crate::apply::check_write_reply("update", STATE_COLLECTION, &reply)
    }
}

fn parse(d: &Document) -> Option<(Bson, Record)> {
    let id = d.get_document("_id").ok()?.get("i")?.clone();
    let agreed = match d.get("h") {
        Some(Bson::String(h)) => Agreed::At(Some(h.clone())),
        Some(_) => Agreed::At(None),
        // Only announced so far: never agreed.
        None => Agreed::Unknown,
    };
    let pending = match (d.get_str("pt"), d.get("p")) {
        (Ok(side), Some(p)) => {
            let side = if side == "local" {
                Side::Local
            } else {
                Side::Remote
            };
            Some((side, p.as_str().map(str::to_string)))
        }
        _ => None,
    };
    Some((id, Record { agreed, pending }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a kill -9 between a write and its record, the side holding the announced version
    /// shows the write happened; the other side's version never counts for it.
    #[test]
    fn an_announced_write_counts_once_its_side_holds_it() {
        let (old, new) = (Some("old".to_string()), Some("new".to_string()));
        let r = Record {
            agreed: Agreed::At(old.clone()),
            pending: Some((Side::Remote, new.clone())),
        };
        let on = |remote: &Option<Version>, local: &Option<Version>| {
            let (remote, local) = (remote.clone(), local.clone());
            move |s: Side| {
                if s == Side::Remote {
                    remote.clone()
                } else {
                    local.clone()
                }
            }
        };
        assert_eq!(r.effective(on(&new, &new)), Agreed::At(new.clone()));
        assert_eq!(r.effective(on(&old, &new)), Agreed::At(old.clone()));
        // The local side holding it proves nothing about the write to the remote side.
        assert_eq!(r.effective(on(&None, &new)), Agreed::At(old.clone()));
        let fresh = Record {
            agreed: Agreed::Unknown,
            pending: Some((Side::Local, None)),
        };
        assert_eq!(fresh.effective(|_| None), Agreed::At(None));
        assert_eq!(fresh.effective(|_| new.clone()), Agreed::Unknown);
    }

    #[test]
    fn records_parse_agreed_tombstones_and_announcements() {
        let id = doc! { "c": "users", "i": 7 };
        let (_, r) = parse(&doc! { "_id": id.clone(), "h": "abc" }).unwrap();
        assert_eq!(
            r,
            Record {
                agreed: Agreed::At(Some("abc".into())),
                pending: None
            }
        );
        let (_, r) = parse(&doc! { "_id": id.clone(), "h": Bson::Null }).unwrap();
        assert_eq!(r.agreed, Agreed::At(None));
        let (i, r) = parse(&doc! { "_id": id, "p": "x", "pt": "local" }).unwrap();
        assert_eq!(i, Bson::Int32(7));
        assert_eq!(
            r,
            Record {
                agreed: Agreed::Unknown,
                pending: Some((Side::Local, Some("x".into())))
            }
        );
    }
}
