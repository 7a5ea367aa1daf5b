//! `update` events in `delta` mode: `updateDescription` as `$set`/`$unset`/truncation, or a fetch
//! when the description cannot be replayed exactly as operators. Read from the raw event:
//! `updatedFields` is checked in place and carried as the bytes the server sent.

use super::{field, fields, Body, TranslateError, WriteKind};
use bson::{RawArray, RawBsonRef};

/// The delta of an update event, or `Fetch` when a path or value is ambiguous; `body` makes
/// `updatedFields` a [`Body`].
pub(super) fn delta_kind(
    desc: Option<RawBsonRef<'_>>,
    body: impl FnOnce(&bson::RawDocument) -> Body,
) -> Result<WriteKind, TranslateError> {
    let desc = match desc {
        Some(RawBsonRef::Document(d)) => d,
        _ => {
            return Err(TranslateError(
                "update event without `updateDescription`".into(),
            ))
        }
    };
    let [disambiguated, updated, removed, truncated] = fields(
        desc,
        [
            "disambiguatedPaths",
            "updatedFields",
            "removedFields",
            "truncatedArrays",
        ],
    )?;
    // Present (server 6.1+, showExpandedEvents) exactly when some path has a numeric or dotted
    // component whose meaning the dotted string cannot tell.
    if let Some(RawBsonRef::Document(paths)) = disambiguated {
        if !paths.is_empty() {
            return Ok(WriteKind::Fetch);
        }
    }
    let set = match updated {
        Some(RawBsonRef::Document(d)) => Some(d),
        None => None,
        Some(_) => return Err(TranslateError("`updatedFields` is not a document".into())),
    };
    let unset = string_list(removed, "removedFields")?;
    let truncate = truncated_arrays(truncated)?;
    let (paths_ok, values_ok) = match set {
        Some(set) => {
            let mut paths_ok = true;
            let mut values_ok = true;
            for entry in set {
                let (path, value) = entry.map_err(malformed)?;
                paths_ok &= is_plain_path(path);
                values_ok &= is_storable_as_set_value(value)?;
            }
            (paths_ok, values_ok)
        }
        None => (true, true),
    };
    let paths_ok = paths_ok && unset.iter().all(|p| is_plain_path(p));
    if !paths_ok || !values_ok || !truncate.iter().all(|(p, _)| is_plain_path(p)) {
        return Ok(WriteKind::Fetch);
    }
    Ok(WriteKind::Delta {
        set: set.map(body).unwrap_or_default(),
        unset,
        truncate,
    })
}

fn malformed(e: bson::raw::Error) -> TranslateError {
    TranslateError(e.to_string())
}

/// A dotted path `$set` reads the way the server wrote it: no empty or `$`-prefixed component.
fn is_plain_path(path: &str) -> bool {
    path.split('.')
        .all(|c| !c.is_empty() && !c.starts_with('$'))
}

/// A value `$set` stores literally: no nested key starting with `$` or containing `.`.
fn is_storable_as_set_value(value: RawBsonRef<'_>) -> Result<bool, TranslateError> {
    match value {
        RawBsonRef::Document(d) => {
            for entry in d {
                let (k, v) = entry.map_err(malformed)?;
                if k.starts_with('$') || k.contains('.') || !is_storable_as_set_value(v)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        RawBsonRef::Array(items) => {
            for item in items {
                if !is_storable_as_set_value(item.map_err(malformed)?)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Ok(true),
    }
}

fn string_list(value: Option<RawBsonRef<'_>>, name: &str) -> Result<Vec<String>, TranslateError> {
    match value {
        None => Ok(Vec::new()),
        Some(RawBsonRef::Array(items)) => items
            .into_iter()
            .map(|v| match v.map_err(malformed)? {
                RawBsonRef::String(s) => Ok(s.to_string()),
                _ => Err(TranslateError(format!("`{name}` holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(TranslateError(format!("`{name}` is not an array"))),
    }
}

/// `truncatedArrays: [{field, newSize}]`.
fn truncated_arrays(value: Option<RawBsonRef<'_>>) -> Result<Vec<(String, i32)>, TranslateError> {
    let bad = || TranslateError("`truncatedArrays` entries must be {field, newSize}".into());
    let items: &RawArray = match value {
        None => return Ok(Vec::new()),
        Some(RawBsonRef::Array(items)) => items,
        Some(_) => return Err(bad()),
    };
    items
        .into_iter()
        .map(|item| {
            let RawBsonRef::Document(d) = item.map_err(malformed)? else {
                return Err(bad());
            };
            let name = d.get_str("field").map_err(|_| bad())?;
            let size = match field(d, "newSize")? {
                Some(RawBsonRef::Int32(n)) => n,
                Some(RawBsonRef::Int64(n)) => i32::try_from(n).map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            Ok((name.to_string(), size))
        })
        .collect()
}
