//! `update` events in `delta` mode: `updateDescription` as `$set`/`$unset`/truncation, or a fetch
//! when the description cannot be replayed exactly as operators.

use super::{TranslateError, WriteKind};
use bson::{Bson, Document};

/// The delta of an update event, or `Fetch` when a path or value is ambiguous.
pub(super) fn delta_kind(event: &Document) -> Result<WriteKind, TranslateError> {
    let desc = event
        .get_document("updateDescription")
        .map_err(|_| TranslateError("update event without `updateDescription`".into()))?;
    // Present (server 6.1+, showExpandedEvents) exactly when some path has a numeric or dotted
    // component whose meaning the dotted string cannot tell.
    if let Some(Bson::Document(paths)) = desc.get("disambiguatedPaths") {
        if !paths.is_empty() {
            return Ok(WriteKind::Fetch);
        }
    }
    let set = match desc.get("updatedFields") {
        Some(Bson::Document(d)) => d.clone(),
        None => Document::new(),
        Some(_) => return Err(TranslateError("`updatedFields` is not a document".into())),
    };
    let unset = string_list(desc.get("removedFields"), "removedFields")?;
    let truncate = truncated_arrays(desc.get("truncatedArrays"))?;
    let paths_ok = set.keys().chain(unset.iter()).all(|p| is_plain_path(p));
    let values_ok = set.values().all(is_storable_as_set_value);
    if !paths_ok || !values_ok || !truncate.iter().all(|(p, _)| is_plain_path(p)) {
        return Ok(WriteKind::Fetch);
    }
    Ok(WriteKind::Delta {
        set,
        unset,
        truncate,
    })
}

/// A dotted path `$set` reads the way the server wrote it: no empty or `$`-prefixed component.
fn is_plain_path(path: &str) -> bool {
    path.split('.')
        .all(|c| !c.is_empty() && !c.starts_with('$'))
}

/// A value `$set` stores literally: no nested key starting with `$` or containing `.`.
fn is_storable_as_set_value(value: &Bson) -> bool {
    match value {
        Bson::Document(d) => d
            .iter()
            .all(|(k, v)| !k.starts_with('$') && !k.contains('.') && is_storable_as_set_value(v)),
        Bson::Array(items) => items.iter().all(is_storable_as_set_value),
        _ => true,
    }
}

fn string_list(value: Option<&Bson>, field: &str) -> Result<Vec<String>, TranslateError> {
    match value {
        None => Ok(Vec::new()),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|v| match v {
                Bson::String(s) => Ok(s.clone()),
                _ => Err(TranslateError(format!("`{field}` holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(TranslateError(format!("`{field}` is not an array"))),
    }
}

/// `truncatedArrays: [{field, newSize}]`.
fn truncated_arrays(value: Option<&Bson>) -> Result<Vec<(String, i32)>, TranslateError> {
    let bad = || TranslateError("`truncatedArrays` entries must be {field, newSize}".into());
    match value {
        None => Ok(Vec::new()),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|item| {
                let d = item.as_document().ok_or_else(bad)?;
                let field = d.get_str("field").map_err(|_| bad())?;
                let size = match d.get("newSize") {
                    Some(Bson::Int32(n)) => *n,
                    Some(Bson::Int64(n)) => i32::try_from(*n).map_err(|_| bad())?,
                    _ => return Err(bad()),
                };
                Ok((field.to_string(), size))
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}
