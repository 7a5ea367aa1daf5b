//! Configuration: typed sections, defaults as named constants, figment layering
//! (defaults < TOML file < `REPLICATOR_*` env < CLI flags), `validate()` naming the failing key.

pub mod defaults;
pub mod duration;
mod env;
mod load;
mod notify;
mod sync;
pub use notify::{redact_url, NotifyConfig, WebhookConfig, WebhookFormat};
mod verify;
pub use sync::{ConflictsConfig, SideConfig, Strategy, SyncConfig};
pub use verify::{ContinuousConfig, VerifyConfig};

pub use env::{ENV_NESTING, ENV_PREFIX};
mod secrets;
mod validate;
pub use validate::MAX_WORKERS;

pub use secrets::{redact_json, redact_text, redact_uri, ConnectionString, Secret};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub source: SourceConfig,
    pub target: TargetConfig,
    /// `[[namespaces]]`: which source collections go where; empty: `source.database` /
    /// `source.collections` into `target.database` ([`Config::scope`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<crate::source::namespaces::NamespaceRule>,
    pub checkpoint: CheckpointConfig,
    pub copy: CopyConfig,
    pub apply: ApplyConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    /// The run history kept beside the checkpoint ([`crate::history::runs`]).
    #[serde(default)]
    pub history: HistoryConfig,
    /// Thresholds of the alert rules (`deploy/prometheus/alerts.yml`).
    #[serde(default)]
    pub alerts: AlertsConfig,
    pub on_history_lost: OnHistoryLost,
    /// Several instances on one source/target pair, one active by lease ([`crate::ha`]).
    #[serde(default)]
    pub ha: HaConfig,
    /// Events for people: lag threshold, webhooks ([`crate::notify`]).
    #[serde(default)]
    pub notify: NotifyConfig,
    /// The continuous verifier beside the tail ([`crate::verify`]).
    #[serde(default)]
    pub verify: VerifyConfig,
    /// Two-way sync (`mongo-replicator sync`, [`crate::sync`]): the local side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SideConfig>,
    /// Two-way sync: the remote side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SideConfig>,
    /// Two-way sync: what a conflict becomes.
    #[serde(default)]
    pub conflicts: ConflictsConfig,
    /// Two-way sync: where its state lives.
    #[serde(default)]
    pub sync: SyncConfig,
}

/// `[ha]`: active/standby by a lease document on the target (the server's clock). Keys left
/// out take their defaults (`ha.name` is the host's, so it has no fixed default to write).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HaConfig {
    pub enabled: bool,
    /// How long a lease lasts without renewal (renewed every third of it).
    pub lease_seconds: u64,
    /// This instance's name in the lease and `/status` (default: the host name).
    pub name: String,
    /// Ask the active to hand over when the mongod at `local_uri` is the primary, so the
    /// active sidecar follows the primary after an election.
    pub prefer_local_primary: bool,
    /// This instance's own mongod (the pod's), asked directly whether it is the primary.
    pub local_uri: Option<ConnectionString>,
}

/// `history`: how long the run history (`GET /api/v1/runs`) is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// Runs that started longer ago than this are pruned at start (`"30d"`, `"12h"`, `"90m"`).
    #[serde(default = "defaults::runs_retention")]
    pub runs_retention: String,
    /// Record every applied change (collection `history`) for the audit trail and
    /// point-in-time restore ([`crate::history::changes`]).
    #[serde(default)]
    pub enabled: bool,
    /// Change entries older than this are pruned by the replicator (`"7d"`).
    #[serde(default = "defaults::history_retention")]
    pub retention: String,
    /// Database on the target holding the entries (default: `checkpoint.database`).
    #[serde(default)]
    pub database: Option<String>,
}

/// `alerts`: thresholds the shipped Prometheus rules are written for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// A pause (everything or one collection) longer than this raises `ReplicatorPausedTooLong`
    /// (exported as `max_pause_seconds`, which the rule compares the pause's age with).
    #[serde(default = "defaults::max_pause")]
    pub max_pause: String,
}

impl HistoryConfig {
    /// `retention` as a duration (validated at load).
    pub fn retention(&self) -> std::time::Duration {
        duration::parse(&self.retention)
            .unwrap_or(duration::parse(defaults::HISTORY_RETENTION).expect("valid default"))
    }

    /// `runs_retention` as a duration (validated at load).
    pub fn runs_retention(&self) -> std::time::Duration {
        duration::parse(&self.runs_retention)
            .unwrap_or(duration::parse(defaults::HISTORY_RUNS_RETENTION).expect("valid default"))
    }
}

impl AlertsConfig {
    /// `max_pause` as a duration (validated at load).
    pub fn max_pause(&self) -> std::time::Duration {
        duration::parse(&self.max_pause)
            .unwrap_or(duration::parse(defaults::ALERTS_MAX_PAUSE).expect("valid default"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub uri: ConnectionString,
    pub database: String,
    /// Only these collections when set; all when absent.
    pub collections: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub uri: ConnectionString,
    pub database: String,
    /// `w` of every write to the target (whatever the URI says).
    pub write_concern: WriteConcernSetting,
}

/// `target.write_concern`: `"majority"` or a number of members that must acknowledge a write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum WriteConcernSetting {
    Nodes(u32),
    Mode(String),
}

impl std::fmt::Display for WriteConcernSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteConcernSetting::Nodes(n) => write!(f, "{n}"),
            WriteConcernSetting::Mode(m) => write!(f, "{m:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStoreKind {
    Target,
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    pub store: CheckpointStoreKind,
    /// Database on the target holding checkpoints (`store = "target"`).
    pub database: String,
    /// File path (`store = "file"`).
    pub path: Option<PathBuf>,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CopyMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CopyConfig {
    pub mode: CopyMode,
    pub batch_size: u32,
    pub parallel_collections: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    Delta,
    FullDocument,
}

/// Which DDL events are propagated to the target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DdlConfig {
    pub drop: bool,
    pub rename: bool,
    pub drop_database: bool,
    pub create: bool,
    pub create_indexes: bool,
    pub drop_indexes: bool,
    /// `collMod` (`modify` events): validator and validation level/action, an index's TTL or
    /// `hidden`, `changeStreamPreAndPostImages` (TTL values are recorded, never applied).
    pub modify: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApplyConfig {
    pub workers: usize,
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    /// Bytes of write ops in flight between the change stream and the writers: reading stops
    /// while that many wait (large documents would otherwise pile up in the queues).
    pub max_queued_bytes: usize,
    pub update_mode: UpdateMode,
    /// What a write the backup refuses for good does: park that document (the rest flows) or
    /// stop the run.
    #[serde(default = "defaults::on_refused")]
    pub on_refused: OnRefused,
    /// Parked documents allowed at once; one more stops the run.
    #[serde(default = "defaults::max_parked_documents")]
    pub max_parked_documents: usize,
    pub ddl: DdlConfig,
    /// Batches one writer may have sent to the target and not yet seen acknowledged; a batch
    /// goes out while others are in flight only when it shares no document with them
    /// ([`crate::tail::in_flight`]). 1 sends one batch at a time.
    #[serde(default = "defaults::writes_in_flight")]
    pub writes_in_flight: usize,
    /// Events are applied no earlier than their source wall time plus this many seconds
    /// (a window to stop a mistake before it reaches the backup; [`crate::tail::delay`]).
    #[serde(default)]
    pub delay_seconds: u64,
    /// Destructive changes held before they reach the backup ([`crate::tail::hold_gate`]).
    #[serde(default)]
    pub hold: HoldConfig,
}

/// `[apply.hold]`: which destructive changes wait for an operator (`release` / `discard`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HoldConfig {
    /// Hold collection drops (and the drops of a `dropDatabase`).
    #[serde(default)]
    pub drops: bool,
    /// More deletes than this on one collection within a minute (source wall time) hold that
    /// collection's deletes and what follows them; 0 = off.
    #[serde(default)]
    pub deletes_per_minute: u64,
}

/// `apply.on_refused`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnRefused {
    /// Park the refused document ([`crate::control::parked`]) while every other one flows.
    #[default]
    Park,
    /// Stop the run (a duplicate key is retried until someone fixes the backup).
    Stop,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Bearer token required by `/status` and `/api/v1/*` (env `REPLICATOR_HTTP__TOKEN`).
    pub token: Option<Secret>,
    /// A file holding the token (a mounted secret); read at start, surrounding whitespace trimmed.
    pub token_file: Option<PathBuf>,
    /// Serve `/status` and `/api/v1/*` without a token on a non-loopback address.
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

impl HttpConfig {
    /// The token in force: `http.token`, else the content of `http.token_file`, else none.
    pub fn resolve_token(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(t) = &self.token {
            return Ok(Some(t.clone()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "http.token_file = {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(ConfigError(format!(
                "http.token_file = {}: the file is empty",
                path.display()
            )));
        }
        Ok(Some(Secret::new(token)))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnHistoryLost {
    Resync,
    Fail,
}

/// A configuration problem, naming the key and what to do.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults < `file` < `REPLICATOR_*` environment < `overrides` (CLI flags, already in
    /// config-key shape, e.g. `{"source": {"uri": ...}}`), then validates.
    pub fn load(file: Option<&Path>, overrides: serde_json::Value) -> Result<Config, ConfigError> {
        let config = load::extract(file, overrides)?;
        config.validate()?;
        Ok(config)
    }

    /// The replicated names and where they go: the `[[namespaces]]` rules, or the
    /// `source.database` / `source.collections` shorthand. Validation compiled them already, so
    /// this only fails on a config that skipped it (naming the rule).
    pub fn scope(
        &self,
    ) -> Result<crate::source::namespaces::Scope, crate::source::namespaces::RuleError> {
        crate::source::namespaces::Selection::of(self).scope(&self.target.database)
    }

    /// Checks values (ranges, non-empty names, source != target namespace, file path when store = file, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self)
    }
}
