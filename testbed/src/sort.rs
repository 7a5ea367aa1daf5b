//! Sort specifications (`{a: 1, "b.c": -1}`) compared in BSON order.
// OWNER: query-engine helper.

use crate::error::CmdResult;
use bson::Document;
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct SortSpec {
    _spec: Document,
}

impl SortSpec {
    pub fn new(spec: &Document) -> CmdResult<Self> {
        let _ = spec;
        todo!("query-engine")
    }

    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        let _ = (a, b);
        todo!("query-engine")
    }
}
