//! BSON comparison in MongoDB's canonical type order (numbers compare across types).
// OWNER: query-engine helper. Stub bodies are replaced by the real implementation.

use bson::Bson;
use std::cmp::Ordering;

/// Total order over BSON values as mongod sorts them
/// (MinKey < null < numbers < string/symbol < object < array < binData < ObjectId < bool < date < timestamp < regex < MaxKey).
pub fn cmp_bson(a: &Bson, b: &Bson) -> Ordering {
    let _ = (a, b);
    todo!("query-engine")
}

/// Query equality: numeric values equal across types (1 == 1.0 == NumberLong(1)), documents field-order sensitive.
pub fn values_equal(a: &Bson, b: &Bson) -> bool {
    cmp_bson(a, b) == Ordering::Equal
}
