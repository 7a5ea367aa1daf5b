//! Two-way sync sections (`mongo-replicator sync`, [`crate::sync`]): `[local]`, `[remote]`,
//! `[conflicts]`, `[sync]`. Defaults and validation of these sections.

use super::ConnectionString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `sync.state_database`: where the agreed versions and the conflicts live (local side).
pub const STATE_DATABASE: &str = "mongo_replicator_sync";

/// `[local]` or `[remote]`: one side of a two-way sync.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SideConfig {
    pub uri: ConnectionString,
    pub database: String,
    /// Only these collections when set; all when absent.
    pub collections: Option<Vec<String>>,
}

/// `conflicts.strategy`: what a conflict becomes without a person.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Stored until someone resolves it.
    #[default]
    Manual,
    /// The side whose change event is later (each side's own clock) wins.
    Newest,
    KeepLocal,
    KeepRemote,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Manual => "manual",
            Strategy::Newest => "newest",
            Strategy::KeepLocal => "keep_local",
            Strategy::KeepRemote => "keep_remote",
        }
    }
}

/// `[conflicts]`: the strategy, and per-collection overrides (`[conflicts.collections]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConflictsConfig {
    pub strategy: Strategy,
    pub collections: BTreeMap<String, Strategy>,
}

impl ConflictsConfig {
    /// The strategy in force for `collection`.
    pub fn strategy_of(&self, collection: &str) -> Strategy {
        self.collections
            .get(collection)
            .copied()
            .unwrap_or(self.strategy)
    }
}

/// `[sync]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Database on the local side holding `sync_state` and `sync_conflicts`.
    pub state_database: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            state_database: STATE_DATABASE.into(),
        }
    }
}

/// Problems of the sync sections, each naming its key.
pub(super) fn problems(
    c: &super::Config,
    check: &mut impl FnMut(&str, &dyn std::fmt::Display, Option<String>),
) {
    for (name, side) in [("local", &c.local), ("remote", &c.remote)] {
        let Some(side) = side else { continue };
        let db = &side.database;
        let problem = (db.is_empty() || db.contains(['/', '\\', '.', ' ', '"', '$']))
            .then(|| "a database name, not empty, without / \\ . space \" $".to_string());
        check(&format!("{name}.database"), &format!("{db:?}"), problem);
        let uri = side.uri.expose();
        let problem = (!uri.starts_with("mongodb://") && !uri.starts_with("mongodb+srv://"))
            .then(|| "expected a mongodb:// or mongodb+srv:// URI".to_string());
        check(&format!("{name}.uri"), &"(redacted)", problem);
    }
    let db = &c.sync.state_database;
    let problem = (db.is_empty() || db.contains(['/', '\\', '.', ' ', '"', '$']))
        .then(|| "a database name, not empty, without / \\ . space \" $".to_string());
    check("sync.state_database", &format!("{db:?}"), problem);
    if let (Some(l), Some(_)) = (&c.local, &c.remote) {
        if l.database == c.sync.state_database {
            check(
                "sync.state_database",
                &format!("{db:?}"),
                Some("must differ from local.database".into()),
            );
        }
    }
}
