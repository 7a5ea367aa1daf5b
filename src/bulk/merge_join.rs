//! Walks two collections side by side in `_id` order (a merge join), streaming: memory stays
//! one batch per side whatever the collection size. Used by `verify` and by the resync prune.

use super::id_order::cmp_ids;
use crate::error::{Error, Origin, Result};
use crate::source::Endpoint;
use bson::{doc, Bson, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::options::{Collation, ReadConcern};
use mongodb::Cursor;
use std::cmp::Ordering;

/// One step of the join.
pub enum Pair {
    Both(RawDocumentBuf, RawDocumentBuf),
    SourceOnly(RawDocumentBuf),
    TargetOnly(RawDocumentBuf),
}

pub struct MergeJoin {
    source: Side,
    target: Side,
}

struct Side {
    cursor: Cursor<RawDocumentBuf>,
    head: Option<(Bson, RawDocumentBuf)>,
    origin: Origin,
}

/// An `_id`-ordered cursor over a collection (`ids_only` projects `{_id: 1}`); the source is
/// read on its primary with read concern majority, whatever its URI says. Both sides sort with
/// the simple collation whatever the collection's default: the join compares `_id`s in the
/// server's binary order ([`crate::bulk::id_order::cmp_ids`]), and a collection collated
/// otherwise would order string `_id`s by its collation (issue 11 item 10: the prune deleted
/// documents the source still had). Such a sort cannot use the `_id` index, so it may spill to
/// disk.
pub async fn id_ordered(
    db: &Endpoint,
    coll: &str,
    ids_only: bool,
    batch_size: u32,
    origin: Origin,
) -> Result<Cursor<RawDocumentBuf>> {
    let collection = db.collection::<RawDocumentBuf>(coll);
    let mut find = collection
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .collation(Collation::builder().locale("simple").build())
        .allow_disk_use(true)
        .batch_size(batch_size);
    if ids_only {
        find = find.projection(doc! {"_id": 1});
    }
    if origin == Origin::Source {
        find = find
            .selection_criteria(crate::source::connect::primary())
            .read_concern(ReadConcern::majority());
    }
    find.await
        .map_err(|e| Error::from_driver(origin, format!("reading {coll}"), &e))
}

/// The `_id` of a raw document.
pub fn raw_id(doc: &RawDocumentBuf) -> Result<Bson> {
    let bad = |m: String| Error::malformed(Origin::Source, "reading _id", m);
    let id = doc
        .get("_id")
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("document without _id".into()))?;
    Bson::try_from(id.to_raw_bson()).map_err(|e| bad(e.to_string()))
}

impl Side {
    async fn advance(&mut self) -> Result<()> {
        let next = self
            .cursor
            .try_next()
            .await
            .map_err(|e| Error::from_driver(self.origin, "reading documents", &e))?;
        self.head = match next {
            Some(d) => Some((raw_id(&d)?, d)),
            None => None,
        };
        Ok(())
    }
}

impl MergeJoin {
    pub async fn new(
        source: Cursor<RawDocumentBuf>,
        target: Cursor<RawDocumentBuf>,
    ) -> Result<Self> {
        let mut s = Side {
            cursor: source,
            head: None,
            origin: Origin::Source,
        };
        let mut t = Side {
            cursor: target,
            head: None,
            origin: Origin::Target,
        };
        s.advance().await?;
        t.advance().await?;
        Ok(MergeJoin {
            source: s,
            target: t,
        })
    }

    pub async fn next(&mut self) -> Result<Option<Pair>> {
        let order = match (&self.source.head, &self.target.head) {
            (None, None) => return Ok(None),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => cmp_ids(a, b),
        };
        let pair = match order {
            Ordering::Less => {
                let (_, d) = self.source.head.take().expect("head");
                self.source.advance().await?;
                Pair::SourceOnly(d)
            }
            Ordering::Greater => {
                let (_, d) = self.target.head.take().expect("head");
                self.target.advance().await?;
                Pair::TargetOnly(d)
            }
            Ordering::Equal => {
                let (_, s) = self.source.head.take().expect("head");
                let (_, t) = self.target.head.take().expect("head");
                self.source.advance().await?;
                self.target.advance().await?;
                Pair::Both(s, t)
            }
        };
        Ok(Some(pair))
    }
}
