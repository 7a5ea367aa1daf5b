//! Builds the change-stream `updateDescription` from what the operators touched.

use super::UpdateDescription;
use crate::compare::identical;
use crate::path::get_path;
use bson::{Bson, Document};

/// What one operator did at its path (recorded in application order).
#[derive(Debug, Clone)]
pub(super) enum Record {
    /// A value was set (possibly creating the path).
    Set { path: String },
    /// Elements were appended to an existing array from index `start`.
    Append { path: String, start: usize },
    /// A field was removed.
    Removed { path: String },
}

/// mongod's reporting: a set is reported at the first created component (whole new subtree) or
/// at its own path, appends per element (`arr.N`), removals by path; unchanged values are skipped.
pub(super) fn describe(old: &Document, new: &Document, records: &[Record]) -> UpdateDescription {
    let mut d = UpdateDescription::default();
    for record in records {
        match record {
            Record::Set { path } => {
                report(&mut d.updated_fields, old, new, first_new_prefix(old, path));
            }
            Record::Append { path, start } => match get_path(new, path) {
                Some(Bson::Array(arr)) => {
                    for (i, v) in arr.iter().enumerate().skip(*start) {
                        d.updated_fields.insert(format!("{path}.{i}"), v.clone());
                    }
                }
                _ => report(&mut d.updated_fields, old, new, path.clone()),
            },
            Record::Removed { path } => {
                if get_path(old, path).is_some() && !d.removed_fields.contains(path) {
                    d.removed_fields.push(path.clone());
                }
            }
        }
    }
    d
}

/// The shortest prefix of `path` absent from the old document (the whole created subtree is
/// reported there), or `path` itself when it existed.
fn first_new_prefix(old: &Document, path: &str) -> String {
    let mut end = 0;
    for part in path.split('.') {
        end += part.len();
        if get_path(old, &path[..end]).is_none() {
            return path[..end].to_string();
        }
        end += 1;
    }
    path.to_string()
}

fn report(updated: &mut Document, old: &Document, new: &Document, path: String) {
    if updated.contains_key(&path) {
        return;
    }
    let Some(value) = get_path(new, &path) else {
        return;
    };
    if get_path(old, &path).is_some_and(|o| identical(o, value)) {
        return;
    }
    updated.insert(path, value.clone());
}
