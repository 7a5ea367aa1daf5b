//! `find`/`$project` projections (inclusion, exclusion, `_id` handling, dotted paths).
// OWNER: query-engine helper.

use crate::error::CmdResult;
use bson::Document;

#[derive(Debug, Clone)]
pub struct Projection {
    _spec: Document,
}

impl Projection {
    pub fn new(spec: &Document) -> CmdResult<Self> {
        let _ = spec;
        todo!("query-engine")
    }

    pub fn apply(&self, doc: &Document) -> CmdResult<Document> {
        let _ = doc;
        todo!("query-engine")
    }
}
