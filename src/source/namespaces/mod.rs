//! Which source namespaces are replicated and where each one goes: the `[[namespaces]]` rules
//! (first match wins; `exclude` selects nothing), or the `source.database` /
//! `source.collections` shorthand, compiled once. Pure: no I/O; the stream, copy and verify
//! ask [`Namespaces::map`] for every name they meet.

mod pattern;
mod rules;
mod scope;
mod selection;
mod template;

#[cfg(test)]
mod tests;

pub use pattern::NamePattern;
pub use rules::{Namespaces, RuleError};
pub use scope::{KeyRename, Scope};
pub use selection::{newly_selected, Selection};
pub use template::Template;

use serde::{Deserialize, Serialize};

/// One `[[namespaces]]` entry as configured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceRule {
    /// `"db.collection"` with `*` / `?` globs on either side, or `"/regex/"` on the whole name.
    pub source: String,
    /// `"db.collection"` with `{db}` / `{coll}`; absent: the default target database, same
    /// collection name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default)]
    pub exclude: bool,
}

/// A database and collection name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub db: String,
    pub coll: String,
}

impl Namespace {
    pub fn new(db: &str, coll: &str) -> Self {
        Self {
            db: db.to_string(),
            coll: coll.to_string(),
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

/// What a source rename means for the backup once both names are mapped.
#[derive(Debug, Clone, PartialEq)]
pub enum RenameEffect {
    /// Both names are replicated: rename on the target.
    Within { from: Namespace, to: Namespace },
    /// From an unselected name into a selected one: the collection is copied anew to `to`.
    IntoSelected { to: Namespace },
    /// From a selected name to an unselected one: the target of `from` is dropped (or kept
    /// when drops do not propagate).
    OutOfSelected { from: Namespace },
    /// Neither is replicated.
    Outside,
}
