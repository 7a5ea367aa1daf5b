//! Reading listed documents by `_id` from both sides, for a resync of some `_id`s: what each side
//! has, keyed by the `_id` the document really carries. `$in` matches numbers across types
//! (`1` finds `NumberLong(1)`), and the repair must name the stored `_id` exactly (a write keyed
//! by another type of the same number would miss it), so the stored `_id`s are what is returned.

use crate::bulk::merge_join::raw_id;
use crate::error::{Error, Origin, Result};
use crate::source::translate::DocKey;
use crate::source::Endpoint;
use bson::{doc, Bson, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::options::{Collation, ReadConcern};
use std::collections::BTreeMap;

/// `_id`s per `$in` query.
const CHUNK: usize = 1000;

/// The documents of `coll` whose `_id` is among `ids`, by the canonical bytes of `{_id: <stored
/// _id>}`, with that `_id`. The source is read on its primary with read concern majority; both
/// sides compare with the simple collation (a collection collated otherwise would match string
/// `_id`s case-insensitively).
pub async fn read_by_ids(
    db: &Endpoint,
    coll: &str,
    ids: &[Bson],
    origin: Origin,
) -> Result<BTreeMap<DocKey, (Bson, RawDocumentBuf)>> {
    let collection = db.collection::<RawDocumentBuf>(coll);
    let err = |e: mongodb::error::Error| Error::from_driver(origin, format!("reading {coll}"), &e);
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut find = collection
            .find(doc! {"_id": {"$in": chunk.to_vec()}})
            .collation(Collation::builder().locale("simple").build());
        if origin == Origin::Source {
            find = find
                .selection_criteria(crate::source::connect::primary())
                .read_concern(ReadConcern::majority());
        }
        let mut cursor = find.await.map_err(err)?;
        while let Some(d) = cursor.try_next().await.map_err(err)? {
            let id = raw_id(&d)?;
            found.insert(DocKey::of(&doc! {"_id": id.clone()}), (id, d));
        }
    }
    Ok(found)
}
