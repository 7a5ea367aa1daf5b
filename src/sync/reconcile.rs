//! The reconciliation pass: first sync of two non-empty sides, history lost on a side, and
//! `POST sync/now`. Under the engine lock, each collection of both sides is walked side by side
//! in `_id` order (a streaming merge join: memory holds one chunk of documents per side and
//! their agreed states, whatever the collection's size) and three-way compared with the agreed
//! state: a document only one side changed (or has) goes
//! to the other, equal ones become agreed, the rest are conflicts under the strategy. It never
//! overwrites a side whose version moved since they agreed.

use super::conflicts::Kind;
use super::engine::{Direction, Engine, Side};
use super::guard::DirectionGuard;
use super::version::{id_key, version_of, Agreed, Version};
use crate::bulk::merge_join::{id_ordered, raw_id, MergeJoin, Pair};
use crate::error::Origin;
use crate::error::Result;
use crate::source::Endpoint;
use bson::{Bson, RawDocumentBuf};
use serde_json::{json, Value};

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

/// One chunk of the merge join: `(_id, local version, remote version)` in `_id` order.
type Docs = Vec<(Bson, Option<RawDocumentBuf>, Option<RawDocumentBuf>)>;

/// Documents per side per chunk of the join (and agreed states read at once).
const CHUNK: usize = 1000;

impl PassSummary {
    fn add(&mut self, o: PassSummary) {
        self.to_local += o.to_local;
        self.to_remote += o.to_remote;
        self.agreed += o.agreed;
        self.conflicts += o.conflicts;
    }
}

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

    /// One reconciliation pass over every collection in scope.
    pub async fn reconcile(&self) -> Result<PassSummary> {
        let _held = self.lock.lock().await;
        let mut summary = PassSummary::default();
        for coll in self.collections_in_scope().await? {
            summary.collections += 1;
            // A pass over a collection can start over: what an earlier attempt wrote is agreed
            // (or an open conflict) by then.
            let done = self
                .reporter
                .retry("reconciling a collection", || {
                    self.reconcile_collection(&coll)
                })
                .await?;
            summary.add(done);
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

    /// One collection's pass, chunk by chunk of the merge join.
    async fn reconcile_collection(&self, coll: &str) -> Result<PassSummary> {
        let (local, remote) = Endpoint::between(&self.local, &self.remote, None);
        let mut join = MergeJoin::new(
            id_ordered(&local, coll, false, CHUNK as u32, Origin::Source).await?,
            id_ordered(&remote, coll, false, CHUNK as u32, Origin::Target).await?,
        )
        .await?;
        let mut summary = PassSummary::default();
        loop {
            let mut chunk: Docs = Vec::with_capacity(CHUNK);
            while chunk.len() < CHUNK {
                let Some(pair) = join.next().await? else {
                    break;
                };
                chunk.push(match pair {
                    Pair::Both(l, r) => (raw_id(&l)?, Some(l), Some(r)),
                    Pair::SourceOnly(l) => (raw_id(&l)?, Some(l), None),
                    Pair::TargetOnly(r) => (raw_id(&r)?, None, Some(r)),
                });
            }
            if chunk.is_empty() {
                return Ok(summary);
            }
            self.reconcile_chunk(coll, &chunk, &mut summary).await?;
        }
    }

    /// Three-way compares one chunk of `(_id, local, remote)` with the agreed states.
    async fn reconcile_chunk(
        &self,
        coll: &str,
        chunk: &Docs,
        summary: &mut PassSummary,
    ) -> Result<()> {
        let ids: Vec<Bson> = chunk.iter().map(|(id, _, _)| id.clone()).collect();
        let agreed = self
            .reporter
            .retry("reading sync_state", || self.state.get_many(coll, &ids))
            .await?;
        let mut same: Vec<(Bson, Option<Version>)> = Vec::new();
        for (id, l, r) in chunk {
            let key = id_key(id);
            if self.is_blocked(coll, &key) {
                continue;
            }
            let id = id.clone();
            let (lv, rv) = (l.as_deref().map(version_of), r.as_deref().map(version_of));
            let a = agreed
                .get(&key)
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
            let (ld, rd) = (l.as_ref(), r.as_ref());
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
