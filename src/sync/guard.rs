//! One direction's [`ApplyGuard`]: per batch, under the engine lock, read the source's and the
//! target's current versions and the agreed ones (one `$in` query each per collection), and
//! decide per document (three-way, [`decide`]): echo, already agreed, apply (the source's
//! current version, so a replayed old event never regresses the target), or conflict.

use super::conflicts::{Conflict, Kind};
use super::engine::{Direction, Engine, Outcome, Side};
use super::state::Record;
use super::version::{decide, id_key, version_of, Verdict, Version};
use crate::error::{Error, Result};
use crate::source::translate::WriteKind;
use crate::tail::guard::{Admission, ApplyGuard};
use crate::tail::router::Item;
use bson::{Bson, Document, RawDocumentBuf};
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub struct DirectionGuard {
    pub engine: Arc<Engine>,
    pub dir: Direction,
}

/// The `_id` of an item's document.
fn id_of(item: &Item) -> Option<Bson> {
    item.op.key.id()
}

fn to_doc(raw: Option<&RawDocumentBuf>) -> Option<Document> {
    raw.and_then(|r| r.to_document().ok())
}

/// The version an op writes.
fn written_version(kind: &WriteKind) -> Option<Option<Version>> {
    match kind {
        WriteKind::Upsert(d) => Some(Some(version_of(d))),
        WriteKind::Delete => Some(None),
        _ => None,
    }
}

impl DirectionGuard {
    /// A both-changed conflict between the source's and the target's versions of `id`.
    pub fn conflict_of(
        dir: Direction,
        coll: &str,
        id: &Bson,
        (source, target): (Option<Document>, Option<Document>),
        source_at: Option<i64>,
    ) -> Conflict {
        let (local, remote) = match dir.source {
            Side::Local => (source, target),
            Side::Remote => (target, source),
        };
        let (local_at, remote_at) = match dir.source {
            Side::Local => (source_at, None),
            Side::Remote => (None, source_at),
        };
        Conflict {
            id: bson::oid::ObjectId::new(),
            collection: coll.to_string(),
            kind: Kind::BothChanged,
            local_id: id.clone(),
            remote_id: id.clone(),
            field: None,
            local,
            remote,
            local_at,
            remote_at,
            detected_at: bson::DateTime::now(),
            resolved: false,
            resolution: None,
            resolved_at: None,
        }
    }

    async fn decide_batch(&self, items: &mut [Item], keep: &mut [bool]) -> Result<()> {
        let engine = &self.engine;
        // Only the last event per document matters: the decision reads current versions.
        let mut last: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            match id_of(item) {
                Some(id) => {
                    last.insert((item.op.coll.clone(), id_key(&id)), i);
                }
                None => keep[i] = true,
            }
        }
        let mut by_coll: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for ((coll, _), i) in &last {
            by_coll.entry(coll.clone()).or_default().push(*i);
        }
        for (coll, indexes) in by_coll {
            let ids: Vec<Bson> = indexes.iter().filter_map(|i| id_of(&items[*i])).collect();
            let source = engine.read_many(self.dir.source, &coll, &ids).await?;
            let target = engine.read_many(self.dir.target(), &coll, &ids).await?;
            let agreed: HashMap<String, Record> = engine
                .reporter
                .retry("reading sync_state", || engine.state.get_many(&coll, &ids))
                .await?;
            let (mut same, mut announced) = (Vec::new(), Vec::new());
            for i in indexes {
                let Some(id) = id_of(&items[i]) else { continue };
                let key = id_key(&id);
                if engine.is_blocked(&coll, &key) {
                    engine.count(self.dir, Outcome::Blocked, 1);
                    continue;
                }
                let (s, t) = (source.get(&key), target.get(&key));
                let (sv, tv) = (s.map(|d| version_of(d)), t.map(|d| version_of(d)));
                let a = agreed
                    .get(&key)
                    .cloned()
                    .unwrap_or_default()
                    .effective(|side| {
                        if side == self.dir.source {
                            sv.clone()
                        } else {
                            tv.clone()
                        }
                    });
                match decide(sv.as_ref(), tv.as_ref(), &a) {
                    Verdict::Echo => engine.count(self.dir, Outcome::Echo, 1),
                    Verdict::Same => {
                        same.push((id, sv));
                        engine.count(self.dir, Outcome::Agreed, 1);
                    }
                    Verdict::Apply => {
                        items[i].op.kind = match s {
                            Some(d) => {
                                WriteKind::Upsert(crate::source::translate::Body::from_raw(d))
                            }
                            None => WriteKind::Delete,
                        };
                        keep[i] = true;
                        announced.push((id, sv));
                    }
                    Verdict::Conflict => {
                        let c = Self::conflict_of(
                            self.dir,
                            &coll,
                            &id,
                            (to_doc(s), to_doc(t)),
                            items[i].wall_ms,
                        );
                        engine.record_conflict(c).await?;
                        engine.count(self.dir, Outcome::Conflict, 1);
                    }
                }
            }
            engine
                .reporter
                .retry("writing sync_state", || engine.state.set_many(&coll, &same))
                .await?;
            let to = self.dir.target();
            engine
                .reporter
                .retry("writing sync_state", || {
                    engine.state.announce(&coll, to, &announced)
                })
                .await?;
        }
        Ok(())
    }
}

impl ApplyGuard for DirectionGuard {
    fn admit<'a>(&'a self, items: &'a mut [Item]) -> BoxFuture<'a, Result<Admission>> {
        async move {
            let permit = self.engine.lock.clone().lock_owned().await;
            let mut keep = vec![false; items.len()];
            self.decide_batch(items, &mut keep).await?;
            Ok(Admission {
                keep,
                permit: Box::new(permit),
            })
        }
        .boxed()
    }

    fn written<'a>(&'a self, items: &'a [Item]) -> BoxFuture<'a, Result<()>> {
        async move {
            let mut by_coll: BTreeMap<&str, Vec<(Bson, Option<Version>)>> = BTreeMap::new();
            for item in items {
                if let (Some(id), Some(v)) = (id_of(item), written_version(&item.op.kind)) {
                    by_coll.entry(&item.op.coll).or_default().push((id, v));
                }
            }
            let engine = &self.engine;
            for (coll, entries) in by_coll {
                engine
                    .reporter
                    .retry("writing sync_state", || {
                        engine.state.set_many(coll, &entries)
                    })
                    .await?;
                engine.count(self.dir, Outcome::Applied, entries.len() as u64);
            }
            Ok(())
        }
        .boxed()
    }

    fn refused<'a>(&'a self, item: &'a Item, e: &'a Error) -> BoxFuture<'a, Result<bool>> {
        async move {
            let (Some(id), WriteKind::Upsert(doc)) = (id_of(item), &item.op.kind) else {
                return Ok(false);
            };
            if !Engine::is_duplicate(e) {
                return Ok(false);
            }
            let Ok(doc) = Document::try_from(&**doc) else {
                return Ok(false);
            };
            let engine = &self.engine;
            let clash = engine
                .unique_clash(self.dir.target(), &item.op.coll, &doc)
                .await?;
            let Some((field, other)) = clash else {
                return Ok(false);
            };
            let other_id = other.get("_id").cloned().unwrap_or(Bson::Null);
            let mut c = Self::conflict_of(
                self.dir,
                &item.op.coll,
                &id,
                (Some(doc), Some(other)),
                item.wall_ms,
            );
            c.kind = Kind::UniqueIndex;
            c.field = Some(field);
            (c.local_id, c.remote_id) = match self.dir.source {
                Side::Local => (id, other_id),
                Side::Remote => (other_id, id),
            };
            engine.record_conflict(c).await?;
            engine.count(self.dir, Outcome::Conflict, 1);
            Ok(true)
        }
        .boxed()
    }
}
