//! Command line (`clap`): `run | copy | verify | demo`, each with `--config FILE` and flags for the
//! common settings. Flags become the highest figment layer.

// Enum-valued flags stay strings here: a bad value is reported by configuration loading, which
// names the key (`apply.update_mode = "fast": expected ...`), the same way for file, env and flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mongo-replicator",
    version,
    about = "Keeps a backup MongoDB database identical to a primary one, live."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy if needed, then tail the change stream forever (the sidecar job).
    Run(CommonArgs),
    /// The initial duplication alone; a later `run` tails from its recorded start point.
    Copy(CommonArgs),
    /// Compare source and target (documents, counts, indexes); exit 1 on any difference.
    Verify(CommonArgs),
    /// Everything on an embedded testbed: seed, traffic, copy + tail, verify.
    Demo(DemoArgs),
    /// Show a running replicator's state (phase, lag, paused, last error).
    Status(ControlArgs),
    /// Pause a running replicator: everything, or one collection (`--collection`).
    Pause(ControlArgs),
    /// Resume one collection (`--collection`), or end every pause.
    Resume(ControlArgs),
    /// Repair one collection (`--collection`), or some of its documents (`--id`), on the backup
    /// from the source while the replicator keeps tailing.
    Resync(ResyncArgs),
    /// List the documents the backup refused for good (parked), optionally of one `--collection`.
    Failed(ControlArgs),
    /// Retry parked documents now: `--collection C --id ID`, or `--all`.
    Retry(DocumentArgs),
    /// Drop parked documents and their waiting events (`verify` then counts each as a known
    /// difference): `--collection C --id ID`, or `--all`.
    Skip(DocumentArgs),
    /// The run history: each run's start, end, exit, phases and counts, newest first.
    Runs(RunsArgs),
    /// List what `apply.hold` holds (drops, delete bursts): collection, kind, events, since.
    Held(ControlArgs),
    /// Apply a held collection's changes (`--collection`), in stream order.
    Release(ControlArgs),
    /// Skip a held collection's drop or deletes (`--collection`): the backup keeps that data.
    Discard(ControlArgs),
    /// Two-way sync between `[local]` and `[remote]`, live, with conflict detection.
    Sync(CommonArgs),
    /// List a running sync's open conflicts (`--all`: resolved ones too).
    Conflicts(ConflictsArgs),
    /// Resolve one conflict: `ID --strategy keep_local|keep_remote|merge|rename_local [--value JSON]`.
    Resolve(ResolveArgs),
    /// Apply the configured strategies to open conflicts (those needing a person are skipped).
    AutoResolve(AutoResolveArgs),
    /// The backup's state as of `--at` (from the change history) into a new database, or with
    /// `--into-uri` into any deployment (only the documents changed since are rewritten).
    Restore(RestoreArgs),
    /// The versions of one document (`--collection C --id ID`), newest first, with what changed.
    History(HistoryArgs),
}

/// Flags of `conflicts`.
#[derive(Debug, Args, Default, Clone)]
pub struct ConflictsArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// Resolved conflicts too.
    #[arg(long)]
    pub all: bool,
}

/// Flags of `resolve`.
#[derive(Debug, Args, Default, Clone)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// The conflict's id (from `conflicts`).
    pub id: String,
    /// keep_local, keep_remote, merge or rename_local.
    #[arg(long)]
    pub strategy: String,
    /// Extended JSON: the merged document (merge) or the new unique value (rename_local).
    #[arg(long)]
    pub value: Option<String>,
}

/// Flags of `auto-resolve`.
#[derive(Debug, Args, Default, Clone)]
pub struct AutoResolveArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// Resolve at most this many.
    #[arg(long)]
    pub max: Option<usize>,
}

/// Flags of `restore`.
#[derive(Debug, Args, Default, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The time to restore to: RFC 3339 (`2026-01-31T12:00:00Z`) or a cluster time `<secs>.<inc>`.
    #[arg(long)]
    pub at: String,
    /// Only this collection (repeatable; default every collection).
    #[arg(long = "collection", value_name = "C")]
    pub collections: Vec<String>,
    /// Only this `_id` (repeatable): Extended JSON or a plain string.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// The database written (default `<target>_restore_<time>`; with `--into-uri`, the source
    /// database's name).
    #[arg(long)]
    pub into_db: Option<String>,
    /// Write into this deployment instead (e.g. the source, to undo a mistake there): only the
    /// documents changed after `--at` are rewritten, deleted or re-created.
    #[arg(long)]
    pub into_uri: Option<String>,
    /// Print per collection how many documents would be restored, deleted, recreated.
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `history`.
#[derive(Debug, Args, Default, Clone)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// The document's `_id`: Extended JSON (`{"$oid": "..."}`, `7`, `"7"`) or a plain string.
    #[arg(long)]
    pub id: String,
    /// Only changes after this time (RFC 3339 or `<secs>.<inc>`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only changes up to this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this operation (insert, update, replace, delete, drop, rename).
    #[arg(long)]
    pub op: Option<String>,
    /// How many versions, newest first (1..=1000).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Flags of `resync`: the control flags, the `_id`s, and whether to wait for the job.
#[derive(Debug, Args, Default, Clone)]
pub struct ResyncArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// Repair only this `_id` (repeatable): Extended JSON (`{"$oid": "..."}`, `7`,
    /// `{"$numberLong": "7"}`), or a plain string (quote a string that reads as JSON: `'"7"'`).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Wait until the job is done; exit 1 if it failed.
    #[arg(long)]
    pub wait: bool,
}

/// Flags of `retry` and `skip`: which parked documents.
#[derive(Debug, Args, Default, Clone)]
pub struct DocumentArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// The document's `_id`: Extended JSON (`{"$oid": "..."}`, `7`, `"7"`) or a plain string.
    #[arg(long)]
    pub id: Option<String>,
    /// Every parked document.
    #[arg(long)]
    pub all: bool,
}

/// Flags of `runs`.
#[derive(Debug, Args, Default, Clone)]
pub struct RunsArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// How many runs, newest first (1..=1000).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// Flags of the control commands (they talk to a running replicator's HTTP API).
#[derive(Debug, Args, Default, Clone)]
pub struct ControlArgs {
    /// TOML configuration file: `http.addr` and `http.token` (or `http.token_file`) are read from it.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// `host:port` of the replicator's HTTP server (default: `http.addr`).
    #[arg(long)]
    pub addr: Option<String>,
    /// Bearer token (default: `http.token`, `http.token_file` or `REPLICATOR_HTTP__TOKEN`).
    #[arg(long)]
    pub token: Option<String>,
    /// One replicated collection instead of everything.
    #[arg(long)]
    pub collection: Option<String>,
    /// Print the server's JSON answer instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub source_uri: Option<String>,
    #[arg(long)]
    pub source_db: Option<String>,
    #[arg(long)]
    pub target_uri: Option<String>,
    #[arg(long)]
    pub target_db: Option<String>,
    #[arg(long)]
    pub http_addr: Option<String>,
    #[arg(long)]
    pub workers: Option<usize>,
    /// `delta` or `full_document`.
    #[arg(long)]
    pub update_mode: Option<String>,
    /// `auto`, `always` or `never`.
    #[arg(long)]
    pub copy_mode: Option<String>,
    #[arg(long)]
    pub log_level: Option<String>,
    /// `text` or `json`.
    #[arg(long)]
    pub log_format: Option<String>,
}

impl CommonArgs {
    /// The flags given, in config-key shape (`{"source": {"uri": ...}}`), for the top figment layer.
    pub fn overrides(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let mut root = Map::new();
        let mut set = |section: &str, key: &str, value: Value| {
            let entry = root
                .entry(section)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key.to_string(), value);
            }
        };
        let flags: [(&str, &str, Option<Value>); 10] = [
            ("source", "uri", self.source_uri.as_ref().map(|v| json!(v))),
            (
                "source",
                "database",
                self.source_db.as_ref().map(|v| json!(v)),
            ),
            ("target", "uri", self.target_uri.as_ref().map(|v| json!(v))),
            (
                "target",
                "database",
                self.target_db.as_ref().map(|v| json!(v)),
            ),
            ("http", "addr", self.http_addr.as_ref().map(|v| json!(v))),
            ("apply", "workers", self.workers.map(|v| json!(v))),
            (
                "apply",
                "update_mode",
                self.update_mode.as_ref().map(|v| json!(v)),
            ),
            ("copy", "mode", self.copy_mode.as_ref().map(|v| json!(v))),
            ("log", "level", self.log_level.as_ref().map(|v| json!(v))),
            ("log", "format", self.log_format.as_ref().map(|v| json!(v))),
        ];
        for (section, key, value) in flags {
            if let Some(value) = value {
                set(section, key, value);
            }
        }
        Value::Object(root)
    }
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// How long to replicate live traffic.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Orders seeded before the copy.
    #[arg(long, default_value_t = 3000)]
    pub seed_orders: u64,
    /// Traffic generator rate (operations per second).
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub http_addr: String,
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// `delta` or `full_document`.
    #[arg(long, default_value = "delta")]
    pub update_mode: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_flags_no_overrides() {
        assert_eq!(CommonArgs::default().overrides(), json!({}));
    }

    #[test]
    fn flags_map_to_nested_config_keys() {
        let cli = Cli::try_parse_from([
            "mongo-replicator",
            "run",
            "--config",
            "x.toml",
            "--source-uri",
            "mongodb://a/",
            "--source-db",
            "s",
            "--target-uri",
            "mongodb://b/",
            "--target-db",
            "t",
            "--http-addr",
            "0.0.0.0:1",
            "--workers",
            "8",
            "--update-mode",
            "full_document",
            "--copy-mode",
            "never",
            "--log-level",
            "debug",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("run expected")
        };
        assert_eq!(args.config.as_deref(), Some(std::path::Path::new("x.toml")));
        assert_eq!(
            args.overrides(),
            json!({
                "source": {"uri": "mongodb://a/", "database": "s"},
                "target": {"uri": "mongodb://b/", "database": "t"},
                "http": {"addr": "0.0.0.0:1"},
                "apply": {"workers": 8, "update_mode": "full_document"},
                "copy": {"mode": "never"},
                "log": {"level": "debug", "format": "json"},
            })
        );
    }

    #[test]
    fn subcommands_parse() {
        for cmd in ["run", "copy", "verify"] {
            assert!(
                Cli::try_parse_from(["mongo-replicator", cmd, "-c", "f.toml"]).is_ok(),
                "{cmd}"
            );
        }
        let cli = Cli::try_parse_from([
            "mongo-replicator",
            "pause",
            "--collection",
            "orders",
            "--addr",
            "h:1",
            "--json",
        ])
        .unwrap();
        let Command::Pause(p) = cli.command else {
            panic!("pause expected")
        };
        assert_eq!(
            (p.collection.as_deref(), p.addr.as_deref(), p.json),
            (Some("orders"), Some("h:1"), true)
        );
        let cli = Cli::try_parse_from([
            "mongo-replicator",
            "resync",
            "--collection",
            "orders",
            "--id",
            "7",
            "--id",
            "{\"$oid\": \"65a1b2c3d4e5f60718293a4b\"}",
            "--wait",
        ])
        .unwrap();
        let Command::Resync(r) = cli.command else {
            panic!("resync expected")
        };
        assert_eq!(
            (r.control.collection.as_deref(), r.ids.len(), r.wait),
            (Some("orders"), 2, true)
        );
        let cli = Cli::try_parse_from([
            "mongo-replicator",
            "retry",
            "--collection",
            "users",
            "--id",
            "{\"$oid\": \"65a1b2c3d4e5f60718293a4b\"}",
        ])
        .unwrap();
        let Command::Retry(r) = cli.command else {
            panic!("retry expected")
        };
        assert_eq!(
            (r.control.collection.as_deref(), r.id.is_some(), r.all),
            (Some("users"), true, false)
        );
        assert!(Cli::try_parse_from(["mongo-replicator", "skip", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["mongo-replicator", "failed", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["mongo-replicator", "runs", "--limit", "3"]).is_ok());
        let cli = Cli::try_parse_from(["mongo-replicator", "demo", "--seconds", "5"]).unwrap();
        let Command::Demo(demo) = cli.command else {
            panic!("demo expected")
        };
        assert_eq!((demo.seconds, demo.seed_orders, demo.workers), (5, 3000, 4));
        assert!(Cli::try_parse_from(["mongo-replicator", "run", "--workers", "many"]).is_err());
    }
}
