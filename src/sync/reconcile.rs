//! The reconciliation pass: first sync of two non-empty sides, history lost on a side, and
//! `POST sync/now`. Under the engine lock, each collection of both sides is read whole and
//! three-way compared with the agreed state: a document only one side changed (or has) goes
//! to the other, equal ones become agreed, the rest are conflicts under the strategy. It never
//! overwrites a side whose version moved since they agreed.

use super::conflicts::Kind;
use super::engine::{Direction, Engine, Side};
use super::guard::DirectionGuard;
use super::version::{id_key, version_of, Agreed, Version};
use crate::error::Result;
use bson::{Bson, RawDocumentBuf};
use futures::TryStreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassSummary {
    pub collections: usize,
    pub to_local: u64,
    pub to_remote: u64,
    pub agreed: u64,
    pub conflicts: u64,
}

impl PassSummary {
    pub fn to_json(self) -> Value {
        json!({
            "collections": self.collections,
            "copied_to_local": self.to_local,
            "copied_to_remote": self.to_remote,
            "agreed": self.agreed,
            "conflicts": self.conflicts,
        })
    }
}

type Docs = BTreeMap<String, (Bson, RawDocumentBuf)>;

impl Engine {
    /// The collections in scope on both sides (names are the same on both).
    async fn collections_in_scope(&self) -> Result<Vec<String>> {
        if let Some(c) = &self.collections {
            return Ok(c.clone());
        }
        let mut names = Vec::new();
        for side in [Side::Local, Side::Remote] {
            let listed = self
                .reporter
                .retry("listing collections", || async {
                    self.db(side).list_collection_names().await.map_err(|e| {
                        crate::error::Error::from_driver(
                            crate::error::Origin::Source,
                            "listing collections",
                            &e,
                        )
                    })
                })
                .await?;
            names.extend(listed.into_iter().filter(|n| !n.starts_with("system.")));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn read_all(&self, side: Side, coll: &str) -> Result<Docs> {
        self.reporter
            .retry("reading a collection for reconciliation", || async {
                let e = |e: mongodb::error::Error| {
                    crate::error::Error::from_driver(
                        crate::error::Origin::Source,
                        "reading a collection",
                        &e,
                    )
                };
                let mut cursor = self
                    .db(side)
                    .collection::<RawDocumentBuf>(coll)
                    .find(bson::doc! {})
                    .sort(bson::doc! { "_id": 1 })
                    .await
                    .map_err(e)?;
                let mut out = Docs::new();
                while let Some(d) = cursor.try_next().await.map_err(e)? {
                    if let Some(id) = d
                        .get("_id")
                        .ok()
                        .flatten()
                        .and_then(|v| v.to_raw_bson().try_into().ok())
                    {
                        out.insert(id_key(&id), (id, d));
                    }
                }
                Ok(out)
            })
            .await
    }

    /// One reconciliation pass over every collection in scope.
    pub async fn reconcile(&self) -> Result<PassSummary> {
        let _held = self.lock.lock().await;
        let mut summary = PassSummary::default();
        for coll in self.collections_in_scope().await? {
            summary.collections += 1;
            self.reconcile_collection(&coll, &mut summary).await?;
        }
        *self.last_pass.lock() = Some(
            json!({ "at": bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(), "summary": summary.to_json() }),
        );
        tracing::info!(
            collections = summary.collections,
            to_local = summary.to_local,
            to_remote = summary.to_remote,
            conflicts = summary.conflicts,
            "sync reconciliation pass done"
        );
        Ok(summary)
    }

    async fn reconcile_collection(&self, coll: &str, summary: &mut PassSummary) -> Result<()> {
        let local = self.read_all(Side::Local, coll).await?;
        let remote = self.read_all(Side::Remote, coll).await?;
        let agreed = self
            .reporter
            .retry("reading sync_state", || self.state.all_of(coll))
            .await?;
        let mut keys: Vec<&String> = local.keys().chain(remote.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut same: Vec<(Bson, Option<Version>)> = Vec::new();
        for key in keys {
            if self.is_blocked(coll, key) {
                continue;
            }
            let (l, r) = (local.get(key), remote.get(key));
            let id = l.or(r).map(|(id, _)| id.clone()).unwrap_or(Bson::Null);
            let (lv, rv) = (l.map(|(_, d)| version_of(d)), r.map(|(_, d)| version_of(d)));
            let a = agreed
                .get(key)
                .cloned()
                .unwrap_or_default()
                .effective(|side| {
                    if side == Side::Local {
                        lv.clone()
                    } else {
                        rv.clone()
                    }
                });
            let from = if lv == rv {
                if a != Agreed::At(lv.clone()) {
                    same.push((id, lv));
                    summary.agreed += 1;
                }
                continue;
            } else if a == Agreed::At(lv.clone()) || (a == Agreed::Unknown && lv.is_none()) {
                Some(Side::Remote)
            } else if a == Agreed::At(rv.clone()) || (a == Agreed::Unknown && rv.is_none()) {
                Some(Side::Local)
            } else {
                None
            };
            let (ld, rd) = (l.map(|(_, d)| d), r.map(|(_, d)| d));
            match from {
                Some(side) => {
                    let (doc, v) = if side == Side::Local {
                        (ld, lv)
                    } else {
                        (rd, rv)
                    };
                    if self.copy_over(coll, &id, doc, side).await? {
                        same.push((id, v));
                        if side == Side::Local {
                            summary.to_remote += 1;
                        } else {
                            summary.to_local += 1;
                        }
                    } else {
                        summary.conflicts += 1;
                    }
                }
                None => {
                    let dir = Direction {
                        source: Side::Local,
                    };
                    let docs = (
                        ld.and_then(|d| d.to_document().ok()),
                        rd.and_then(|d| d.to_document().ok()),
                    );
                    self.record_conflict(DirectionGuard::conflict_of(dir, coll, &id, docs, None))
                        .await?;
                    summary.conflicts += 1;
                }
            }
        }
        self.reporter
            .retry("writing sync_state", || self.state.set_many(coll, &same))
            .await
    }

    /// Writes `from`'s version of `id` to the other side: false when a unique index refused it
    /// (recorded as a conflict).
    async fn copy_over(
        &self,
        coll: &str,
        id: &Bson,
        doc: Option<&RawDocumentBuf>,
        from: Side,
    ) -> Result<bool> {
        let announced = [(id.clone(), doc.map(|d| version_of(d)))];
        self.reporter
            .retry("writing sync_state", || {
                self.state.announce(coll, from.other(), &announced)
            })
            .await?;
        match self.write(from.other(), coll, id, doc).await {
            Ok(()) => Ok(true),
            Err(e) if Engine::is_duplicate(&e) => {
                let Some(d) = doc.and_then(|d| d.to_document().ok()) else {
                    return Err(e);
                };
                let Some((field, other)) = self.unique_clash(from.other(), coll, &d).await? else {
                    return Err(e);
                };
                let other_id = other.get("_id").cloned().unwrap_or(Bson::Null);
                let dir = Direction { source: from };
                let mut c =
                    DirectionGuard::conflict_of(dir, coll, id, (Some(d), Some(other)), None);
                c.kind = Kind::UniqueIndex;
                c.field = Some(field);
                (c.local_id, c.remote_id) = match from {
                    Side::Local => (id.clone(), other_id),
                    Side::Remote => (other_id, id.clone()),
                };
                self.record_conflict(c).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
