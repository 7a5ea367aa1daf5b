//! The seed document of an upsert, built from the filter's equality conditions.

use crate::error::{CmdError, CmdResult};
use crate::path::{get_path, set_path};
use bson::{Bson, Document};

/// The seed document of an upsert: the equality conditions of `filter` (including dotted paths and `_id`).
///
/// Equalities are `field: value`, `field: {$eq: value}`, `field: {$in: [value]}` and those inside
/// a top-level `$and`; dotted paths become nested documents; `_id` comes first.
pub fn upsert_seed(filter: &Document) -> CmdResult<Document> {
    let mut seed = Document::new();
    add_equalities(filter, &mut seed)?;
    super::move_id_first(&mut seed);
    Ok(seed)
}

fn add_equalities(filter: &Document, seed: &mut Document) -> CmdResult<()> {
    for (k, v) in filter {
        if k == "$and" {
            if let Bson::Array(items) = v {
                for item in items {
                    if let Bson::Document(d) = item {
                        add_equalities(d, seed)?;
                    }
                }
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let Some(value) = equality_value(v) else {
            continue;
        };
        let parts: Vec<&str> = k.split('.').collect();
        let clash = (1..=parts.len()).any(|i| {
            get_path(seed, &parts[..i].join("."))
                .is_some_and(|e| i == parts.len() || !matches!(e, Bson::Document(_)))
        });
        if clash || set_path(seed, &parts, value).is_err() {
            return Err(CmdError::new(
                54,
                "NotSingleValueField",
                format!("cannot infer query fields to set, path '{k}' is matched twice"),
            ));
        }
    }
    Ok(())
}

fn equality_value(v: &Bson) -> Option<Bson> {
    match v {
        Bson::RegularExpression(_) => None,
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            if d.len() != 1 {
                return None;
            }
            match (d.get("$eq"), d.get("$in")) {
                (Some(Bson::RegularExpression(_)), _) => None,
                (Some(x), _) => Some(x.clone()),
                (_, Some(Bson::Array(items))) if items.len() == 1 => {
                    Some(items[0].clone()).filter(|x| !matches!(x, Bson::RegularExpression(_)))
                }
                _ => None,
            }
        }
        other => Some(other.clone()),
    }
}
