//! Query filters (`find`, `update`, `delete`, `count`, `$match`).
//!
//! A filter is parsed once into a tree ([`parse`]) and evaluated per document ([`eval`]) with
//! mongod's array semantics: a dotted path fans out through arrays of documents, a predicate on
//! a field holding an array is tried on the array itself and on each element, and negations
//! (`$ne`, `$nin`, `$not`, `$nor`) negate the whole fan-out.
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

mod eval;
mod json_schema;
mod parse;

use crate::error::CmdResult;
use bson::{Bson, Document};

pub(crate) use eval::{path_values, pred_matches_value};
pub(crate) use parse::{parse_value_pred, type_name_of, Pred};

/// A parsed query filter.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: Expr,
    /// Strings compare with this collation (`None`: binary).
    /// Boxed: most filters have none, and `Matcher` is embedded in other enums.
    collation: Option<Box<crate::collation::Collation>>,
    id_eq: Option<Bson>,
    id_in: Option<Vec<Bson>>,
}

/// A filter tree node.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Nor(Vec<Expr>),
    /// Predicate on the values found at a dotted path.
    Field(String, Pred),
    /// `$expr`: an aggregation expression evaluated on the whole document.
    Aggregate(Bson),
    /// `$jsonSchema`: the whole document against a schema.
    JsonSchema(Box<json_schema::Schema>),
}

impl Matcher {
    /// Parses a filter; unknown `$` operators are `BadValue` as on mongod.
    pub fn new(filter: &Document) -> CmdResult<Self> {
        Self::with_collation(filter, None)
    }

    /// A filter whose string comparisons (`$eq`, `$in`, ranges) use `collation`; regexes stay
    /// binary, as on mongod. The `_id` fast paths are off when a collated string is involved
    /// (the store's map is in binary order).
    pub fn with_collation(
        filter: &Document,
        collation: Option<&crate::collation::Collation>,
    ) -> CmdResult<Self> {
        let root = parse::parse_filter(filter)?;
        let mut id_eq = parse::id_equality(filter);
        let mut id_in = parse::id_in(filter);
        if collation.is_some() {
            let collated = crate::collation::has_string;
            id_eq = id_eq.filter(|v| !collated(v));
            id_in = id_in.filter(|vs| !vs.iter().any(collated));
        }
        Ok(Matcher {
            root,
            collation: collation.cloned().map(Box::new),
            id_eq,
            id_in,
        })
    }

    /// True when `doc` satisfies the filter.
    pub fn matches(&self, doc: &Document) -> bool {
        eval::eval_expr(&self.root, doc, self.collation.as_deref())
    }

    /// When the filter pins `_id` to a single value by equality, that value (fast path for
    /// lookups). The caller must still check [`Matcher::matches`] for the other conditions.
    pub fn id_equality(&self) -> Option<&bson::Bson> {
        self.id_eq.as_ref()
    }

    /// When the filter is `_id: {$in: [values]}` at the top level, the values (point lookups
    /// instead of a scan, as an index would do). The caller must still check `matches`.
    pub fn id_in(&self) -> Option<&[bson::Bson]> {
        self.id_in.as_deref()
    }
}

/// The rules of a `$jsonSchema` that `doc` breaks, as mongod's `errInfo` lists them under
/// `schemaRulesNotSatisfied` (empty when the schema does not parse or `doc` satisfies it).
pub(crate) fn json_schema_failures(schema: &Document, doc: &Document) -> Vec<Document> {
    json_schema::Schema::parse(schema)
        .map(|s| s.failures_doc(doc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
