//! Query filters (`find`, `update`, `delete`, `count`, `$match`).
// OWNER: query-engine helper.

use crate::error::CmdResult;
use bson::Document;

/// A parsed query filter.
#[derive(Debug, Clone)]
pub struct Matcher {
    _filter: Document,
}

impl Matcher {
    /// Parses a filter; unknown `$` operators are `BadValue` as on mongod.
    pub fn new(filter: &Document) -> CmdResult<Self> {
        let _ = filter;
        todo!("query-engine")
    }

    /// True when `doc` satisfies the filter.
    pub fn matches(&self, doc: &Document) -> bool {
        let _ = doc;
        todo!("query-engine")
    }

    /// When the filter pins `_id` to a single value by equality, that value (fast path for lookups).
    pub fn id_equality(&self) -> Option<&bson::Bson> {
        todo!("query-engine")
    }
}
