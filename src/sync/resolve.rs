//! Resolving a conflict, by hand or by strategy: under the engine lock, make both sides hold
//! the chosen versions, record them as agreed (so their change events are echoes), mark the
//! conflict resolved and unblock its documents.

use super::conflicts::{Conflict, Kind};
use super::engine::{Engine, Side};
use super::version::{id_key, version_of};
use crate::config::Strategy;
use crate::error::{Class, Error, ErrorKind, Result};
use bson::{oid::ObjectId, Bson, Document, RawDocumentBuf};
use std::time::Duration;

/// How long a resolution waits for the sync lock (a side down holds it) before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20);

/// A resolution someone asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    KeepLocal,
    KeepRemote,
    /// This document on both sides (its `_id` is the conflict's).
    Merge(Document),
    /// A new value of the unique field for the local document.
    RenameLocal(Bson),
}

impl Resolution {
    pub fn name(&self) -> &'static str {
        match self {
            Resolution::KeepLocal => "keep_local",
            Resolution::KeepRemote => "keep_remote",
            Resolution::Merge(_) => "merge",
            Resolution::RenameLocal(_) => "rename_local",
        }
    }
}

/// Why a resolution was refused (the API's 4xx).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no conflict with that id")]
    NotFound,
    #[error("the conflict is already resolved")]
    Resolved,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

fn raw(d: &Document) -> Result<RawDocumentBuf> {
    RawDocumentBuf::from_document(d).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "encoding a document",
            e.to_string(),
        )
    })
}

/// `doc` with `_id` first, as stored.
fn with_id(id: &Bson, doc: &Document) -> Document {
    let mut out = bson::doc! { "_id": id.clone() };
    for (k, v) in doc {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

impl Engine {
    /// Applies `how` to conflict `id`.
    pub async fn resolve(
        &self,
        id: ObjectId,
        how: Resolution,
    ) -> std::result::Result<Conflict, Refusal> {
        let Ok(_held) = tokio::time::timeout(LOCK_WAIT, self.lock.lock()).await else {
            return Err(Refusal::Invalid(
                "sync is busy (a side unreachable?); try again".into(),
            ));
        };
        let c = self.conflicts.get(id).await?.ok_or(Refusal::NotFound)?;
        if c.resolved {
            return Err(Refusal::Resolved);
        }
        let coll = c.collection.clone();
        match (&c.kind, &how) {
            (Kind::BothChanged, Resolution::KeepLocal | Resolution::KeepRemote) => {
                let from = if how == Resolution::KeepLocal {
                    Side::Local
                } else {
                    Side::Remote
                };
                let cur = self
                    .read_many(from, &coll, std::slice::from_ref(&c.local_id))
                    .await?;
                let doc = cur.get(&id_key(&c.local_id));
                self.converge(&coll, &c.local_id, doc).await?;
            }
            (_, Resolution::Merge(value)) if c.kind == Kind::BothChanged => {
                let doc = raw(&with_id(&c.local_id, value))?;
                self.converge(&coll, &c.local_id, Some(&doc)).await?;
            }
            (Kind::UniqueIndex, Resolution::RenameLocal(value)) => {
                let field = c.field.clone().unwrap_or_default();
                if field.contains(',') {
                    return Err(Refusal::Invalid(
                        "rename_local needs a single-field unique index".into(),
                    ));
                }
                let local = self
                    .read_many(Side::Local, &coll, std::slice::from_ref(&c.local_id))
                    .await?;
                let Some(mut doc) = local
                    .get(&id_key(&c.local_id))
                    .and_then(|d| d.to_document().ok())
                else {
                    return Err(Refusal::Invalid(
                        "the local document is gone; use keep_remote".into(),
                    ));
                };
                doc.insert(field, value.clone());
                let renamed = raw(&doc)?;
                self.converge(&coll, &c.local_id, Some(&renamed)).await?;
                let remote = self
                    .read_many(Side::Remote, &coll, std::slice::from_ref(&c.remote_id))
                    .await?;
                self.converge(&coll, &c.remote_id, remote.get(&id_key(&c.remote_id)))
                    .await?;
            }
            (Kind::UniqueIndex, Resolution::KeepLocal | Resolution::KeepRemote) => {
                // The kept side's document wins the value; the other document is deleted on
                // both sides.
                let (keep_id, keep_side, drop_id) = if how == Resolution::KeepLocal {
                    (&c.local_id, Side::Local, &c.remote_id)
                } else {
                    (&c.remote_id, Side::Remote, &c.local_id)
                };
                self.converge(&coll, drop_id, None).await?;
                let kept = self
                    .read_many(keep_side, &coll, std::slice::from_ref(keep_id))
                    .await?;
                self.converge(&coll, keep_id, kept.get(&id_key(keep_id)))
                    .await?;
            }
            _ => {
                return Err(Refusal::Invalid(format!(
                    "{} does not apply to a {:?} conflict",
                    how.name(),
                    c.kind
                )))
            }
        }
        self.conflicts.mark_resolved(id, how.name()).await?;
        {
            let mut open = self.open.lock();
            for k in c.blocked() {
                open.remove(&k);
            }
        }
        self.metrics.open_changed(-1);
        tracing::info!(collection = %coll, resolution = how.name(), "sync conflict resolved");
        let mut c = c;
        c.resolved = true;
        c.resolution = Some(how.name().into());
        Ok(c)
    }

    /// Writes `doc` (or its absence) under `id` to both sides, agreed first so the change
    /// events both writes cause are echoes. Caller holds the lock.
    pub(super) async fn converge(
        &self,
        coll: &str,
        id: &Bson,
        doc: Option<&RawDocumentBuf>,
    ) -> Result<()> {
        let entry = [(id.clone(), doc.map(|d| version_of(d)))];
        self.reporter
            .retry("writing sync_state", || self.state.set_many(coll, &entry))
            .await?;
        self.write(Side::Local, coll, id, doc).await?;
        self.write(Side::Remote, coll, id, doc).await
    }

    /// The resolution `strategy` gives `c`, or `None` when it needs a person.
    pub fn automatic(strategy: Strategy, c: &Conflict) -> Option<Resolution> {
        match strategy {
            Strategy::Manual => None,
            Strategy::KeepLocal => Some(Resolution::KeepLocal),
            Strategy::KeepRemote => Some(Resolution::KeepRemote),
            Strategy::Newest if c.kind == Kind::BothChanged => match (c.local_at, c.remote_at) {
                (Some(l), Some(r)) if l >= r => Some(Resolution::KeepLocal),
                (Some(_), Some(_)) => Some(Resolution::KeepRemote),
                (Some(_), None) => Some(Resolution::KeepLocal),
                (None, Some(_)) => Some(Resolution::KeepRemote),
                (None, None) => None,
            },
            Strategy::Newest => None,
        }
    }

    /// Applies each collection's strategy to up to `max` open conflicts, skipping those that
    /// need a person: (resolved, skipped).
    pub async fn auto_resolve(&self, max: usize) -> Result<(usize, usize)> {
        let open = self.conflicts.list(false, None).await?;
        let (mut resolved, mut skipped) = (0, 0);
        for c in open {
            if resolved >= max {
                break;
            }
            match Self::automatic(self.policy.strategy_of(&c.collection), &c) {
                None => skipped += 1,
                Some(how) => match self.resolve(c.id, how).await {
                    Ok(_) => resolved += 1,
                    Err(Refusal::Failed(e)) => return Err(e),
                    Err(_) => skipped += 1,
                },
            }
        }
        Ok((resolved, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(kind: Kind, local_at: Option<i64>, remote_at: Option<i64>) -> Conflict {
        let local = super::super::engine::Direction {
            source: Side::Local,
        };
        let id = Bson::Int32(1);
        let mut c = super::super::guard::DirectionGuard::conflict_of(
            local,
            "users",
            &id,
            (None, None),
            local_at,
        );
        (c.kind, c.remote_at) = (kind, remote_at);
        c
    }

    #[test]
    fn strategies_resolve_what_needs_no_person() {
        let both = conflict(Kind::BothChanged, Some(5), Some(9));
        assert_eq!(Engine::automatic(Strategy::Manual, &both), None);
        assert_eq!(
            Engine::automatic(Strategy::KeepLocal, &both),
            Some(Resolution::KeepLocal)
        );
        assert_eq!(
            Engine::automatic(Strategy::KeepRemote, &both),
            Some(Resolution::KeepRemote)
        );
        assert_eq!(
            Engine::automatic(Strategy::Newest, &both),
            Some(Resolution::KeepRemote)
        );
        let local_later = conflict(Kind::BothChanged, Some(10), None);
        assert_eq!(
            Engine::automatic(Strategy::Newest, &local_later),
            Some(Resolution::KeepLocal)
        );
        assert_eq!(
            Engine::automatic(Strategy::Newest, &conflict(Kind::BothChanged, None, None)),
            None
        );
        // A unique clash under `newest` needs a person (a rename, or which one to drop).
        assert_eq!(
            Engine::automatic(
                Strategy::Newest,
                &conflict(Kind::UniqueIndex, Some(1), Some(2))
            ),
            None
        );
    }

    #[test]
    fn a_merged_document_is_stored_with_the_conflicts_id_first() {
        let merged = with_id(&Bson::Int32(3), &bson::doc! { "v": 1, "_id": 99, "w": 2 });
        assert_eq!(merged, bson::doc! { "_id": 3, "v": 1, "w": 2 });
    }
}
