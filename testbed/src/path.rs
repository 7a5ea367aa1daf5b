//! Dotted-path access into documents and arrays (`a.b.0.c`), shared by the matcher, updates,
//! projection and sort.
// OWNER: query-engine helper.

use bson::{Bson, Document};

/// The value at a dotted path without array traversal (numeric components index arrays).
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let _ = (doc, path);
    todo!("query-engine")
}
