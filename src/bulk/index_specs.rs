//! Index definitions of a collection: listing them (`listIndexes`), and comparing two sides'
//! definitions by name, without the fields a server adds (`v`, `ns`, `background`), regardless of
//! option order, and as the backup holds them (no `expireAfterSeconds`: see
//! [`crate::state::ttl_indexes`]). Used by the copy (which indexes to build) and `verify`.

use crate::apply::ddl::clean_specs;
use crate::error::codes::NAMESPACE_NOT_FOUND;
use crate::error::{command_code, Error, Origin, Result};
use crate::source::Endpoint;
use bson::{doc, Document};

/// Index specs of a collection (raw `listIndexes`, `_id_` excluded; none when it does not
/// exist). `origin` says which side errors are counted against.
pub async fn index_specs(side: &Endpoint, coll: &str, origin: Origin) -> Result<Vec<Document>> {
    let (db, name) = side.locate(coll);
    let reply = db.run_command(doc! {"listIndexes": name}).await;
    let reply = match reply {
        Ok(r) => r,
        Err(e) if command_code(&e) == Some(NAMESPACE_NOT_FOUND) => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::from_driver(
                origin,
                format!("listing indexes of {coll}"),
                &e,
            ))
        }
    };
    let mut specs: Vec<Document> = reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|a| a.iter().filter_map(|b| b.as_document().cloned()).collect())
        .unwrap_or_default();
    specs.retain(|s| s.get_str("name").map(|n| n != "_id_").unwrap_or(true));
    Ok(specs)
}

/// What differs between the `source` and `target` index specs, one line per index by name
/// (missing on the target, only on the target, or defined differently). Pure.
pub fn differences(source: Vec<Document>, target: Vec<Document>) -> Vec<String> {
    let (s, t) = (by_name(source), by_name(target));
    let mut diffs = Vec::new();
    for (n, spec) in &s {
        match t.iter().find(|(m, _)| m == n) {
            None => diffs.push(format!("{n} missing on target")),
            Some((_, other)) if !same_spec(spec, other) => {
                diffs.push(format!("{n} differs: source {spec} target {other}"))
            }
            _ => {}
        }
    }
    for (n, _) in &t {
        if !s.iter().any(|(m, _)| m == n) {
            diffs.push(format!("{n} only on target"));
        }
    }
    diffs
}

/// Cleaned specs by name, sorted.
fn by_name(specs: Vec<Document>) -> Vec<(String, Document)> {
    let mut v: Vec<(String, Document)> = clean_specs(&specs)
        .into_iter()
        .map(|s| (s.get_str("name").unwrap_or("").to_string(), s))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Same definition: equal as documents regardless of option order.
fn same_spec(a: &Document, b: &Document) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_order_and_server_fields_do_not_count() {
        let s = vec![doc! {"v": 2, "key": {"a": 1}, "name": "a_1", "unique": true}];
        let t = vec![doc! {"name": "a_1", "unique": true, "key": {"a": 1}, "ns": "db.c"}];
        assert!(differences(s, t).is_empty());
    }

    #[test]
    fn the_backup_holds_ttl_indexes_without_their_ttl() {
        let s = vec![doc! {"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 60}];
        let t = vec![doc! {"key": {"at": 1}, "name": "at_1"}];
        assert!(differences(s.clone(), t).is_empty());
        let other_key = vec![doc! {"key": {"at": -1}, "name": "at_1"}];
        assert_eq!(differences(s, other_key).len(), 1);
    }

    #[test]
    fn missing_extra_and_different_indexes_are_each_named() {
        let s = vec![
            doc! {"key": {"a": 1}, "name": "a_1"},
            doc! {"key": {"b": 1}, "name": "b_1", "unique": true},
        ];
        let t = vec![
            doc! {"key": {"b": 1}, "name": "b_1"},
            doc! {"key": {"c": 1}, "name": "c_1"},
        ];
        let diffs = differences(s, t);
        assert_eq!(diffs.len(), 3, "{diffs:?}");
        assert_eq!(diffs[0], "a_1 missing on target");
        assert!(diffs[1].starts_with("b_1 differs"), "{diffs:?}");
        assert_eq!(diffs[2], "c_1 only on target");
    }
}
