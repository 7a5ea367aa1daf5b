//! Layering: defaults < file < environment < flags, and `config/example.toml` == the defaults.

use super::{example_path, toml_file, EnvGuard};
use mongo_replicator::cmd::cli::CommonArgs;
use mongo_replicator::config::{
    CheckpointStoreKind, Config, CopyMode, LogFormat, OnHistoryLost, UpdateMode,
};
use serde_json::json;
use std::collections::BTreeSet;

#[test]
fn defaults_are_the_documented_ones() {
    let _env = EnvGuard::new();
    let c = Config::load(None, json!({})).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(
        c.source.uri.expose(),
        "mongodb://localhost:27017/?replicaSet=rs0"
    );
    assert_eq!(
        (c.source.database.as_str(), c.target.database.as_str()),
        ("ordersDB", "ordersDB_backup")
    );
    assert_eq!(c.target.uri, c.source.uri);
    assert_eq!(c.source.collections, None);
    assert_eq!(
        (c.checkpoint.store, c.checkpoint.database.as_str()),
        (CheckpointStoreKind::Target, "mongo_replicator")
    );
    assert_eq!(
        (c.checkpoint.path.clone(), c.checkpoint.interval_ms),
        (None, 1000)
    );
    assert_eq!(
        (c.copy.mode, c.copy.batch_size, c.copy.parallel_collections),
        (CopyMode::Auto, 1000, 4)
    );
    assert_eq!(
        (
            c.apply.workers,
            c.apply.batch_size,
            c.apply.max_batch_delay_ms,
            c.apply.writes_in_flight
        ),
        (1, 1000, 50, 4)
    );
    assert_eq!(c.apply.update_mode, UpdateMode::Delta);
    let d = &c.apply.ddl;
    assert!(
        d.drop && d.rename && d.drop_database && d.create && d.create_indexes && d.drop_indexes
    );
    assert_eq!(c.http.addr.to_string(), "127.0.0.1:9464");
    assert_eq!(
        (c.log.format, c.log.level.as_str()),
        (LogFormat::Text, "info")
    );
    assert_eq!(c.on_history_lost, OnHistoryLost::Resync);
    c.validate().unwrap();
}

#[test]
fn file_overrides_defaults_and_keeps_the_rest() {
    let _env = EnvGuard::new();
    let (_dir, path) = toml_file(
        "on_history_lost = \"fail\"\n[source]\ncollections = [\"orders\"]\n[apply]\nworkers = 9\n[apply.ddl]\ndrop = false\n",
    );
    let c = Config::load(Some(&path), json!({})).unwrap();
    assert_eq!(c.apply.workers, 9);
    assert!(!c.apply.ddl.drop && c.apply.ddl.rename);
    assert_eq!(c.source.collections, Some(vec!["orders".to_string()]));
    assert_eq!(c.on_history_lost, OnHistoryLost::Fail);
    assert_eq!(c.apply.batch_size, 1000);
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let env = EnvGuard::new();
    let (_dir, path) = toml_file("[apply]\nworkers = 9\nbatch_size = 7\n[log]\nlevel = \"warn\"\n");
    env.set("REPLICATOR_APPLY__WORKERS", "12");
    env.set("REPLICATOR_LOG__LEVEL", "debug");
    let c = Config::load(Some(&path), json!({})).unwrap();
    assert_eq!(
        (c.apply.workers, c.apply.batch_size, c.log.level.as_str()),
        (12, 7, "debug")
    );
    let flags = CommonArgs {
        workers: Some(3),
        ..Default::default()
    };
    let c = Config::load(Some(&path), flags.overrides()).unwrap();
    assert_eq!(
        (c.apply.workers, c.apply.batch_size, c.log.level.as_str()),
        (3, 7, "debug")
    );
}

#[test]
fn env_nesting_reaches_every_level_and_keeps_strings_raw() {
    let env = EnvGuard::new();
    env.set(
        "REPLICATOR_SOURCE__URI",
        "mongodb://src:27017/?replicaSet=a",
    );
    env.set("REPLICATOR_SOURCE__DATABASE", "2024");
    env.set("REPLICATOR_SOURCE__COLLECTIONS", "[orders, customers]");
    env.set("REPLICATOR_APPLY__UPDATE_MODE", "full_document");
    env.set("REPLICATOR_APPLY__DDL__DROP_DATABASE", "false");
    env.set("REPLICATOR_CHECKPOINT__STORE", "file");
    env.set("REPLICATOR_CHECKPOINT__PATH", "/tmp/cp.json");
    env.set("REPLICATOR_ON_HISTORY_LOST", "fail");
    env.set("REPLICATOR_HTTP__ADDR", "0.0.0.0:9000");
    // A non-loopback bind needs the token; the env sets it.
    env.set("REPLICATOR_HTTP__TOKEN", "t0ken");
    let c = Config::load(None, json!({})).unwrap();
    assert_eq!(c.http.token.as_ref().map(|t| t.expose()), Some("t0ken"));
    assert_eq!(c.source.uri.expose(), "mongodb://src:27017/?replicaSet=a");
    assert_eq!(
        c.source.database, "2024",
        "a numeric-looking name stays a string"
    );
    assert_eq!(
        c.source.collections,
        Some(vec!["orders".to_string(), "customers".to_string()])
    );
    assert_eq!(c.apply.update_mode, UpdateMode::FullDocument);
    assert!(!c.apply.ddl.drop_database && c.apply.ddl.drop);
    assert_eq!(c.checkpoint.store, CheckpointStoreKind::File);
    assert_eq!(
        c.checkpoint.path.as_deref(),
        Some(std::path::Path::new("/tmp/cp.json"))
    );
    assert_eq!(c.on_history_lost, OnHistoryLost::Fail);
    assert_eq!(c.http.addr.port(), 9000);
}

#[test]
fn all_cli_flags_land_on_their_keys() {
    let _env = EnvGuard::new();
    let flags = CommonArgs {
        source_uri: Some("mongodb://s/".into()),
        source_db: Some("a".into()),
        target_uri: Some("mongodb://t/".into()),
        target_db: Some("b".into()),
        http_addr: Some("127.0.0.1:1".into()),
        update_mode: Some("full_document".into()),
        copy_mode: Some("never".into()),
        log_level: Some("trace".into()),
        log_format: Some("json".into()),
        ..Default::default()
    };
    let c = Config::load(None, flags.overrides()).unwrap();
    assert_eq!(
        (c.source.uri.expose(), c.source.database.as_str()),
        ("mongodb://s/", "a")
    );
    assert_eq!(
        (c.target.uri.expose(), c.target.database.as_str()),
        ("mongodb://t/", "b")
    );
    assert_eq!(c.http.addr.port(), 1);
    assert_eq!(
        (c.apply.update_mode, c.copy.mode),
        (UpdateMode::FullDocument, CopyMode::Never)
    );
    assert_eq!(
        (c.log.level.as_str(), c.log.format),
        ("trace", LogFormat::Json)
    );
}

#[test]
fn example_toml_equals_the_defaults() {
    let _env = EnvGuard::new();
    let c = Config::load(Some(&example_path()), json!({})).unwrap();
    assert_eq!(c, Config::default());
}

/// Every key of the configuration appears in the example (commented out when it has no default),
/// each preceded by a comment line, and the example has no key the configuration lacks.
#[test]
fn example_toml_documents_every_key() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let mut documented = BTreeSet::new();
    let mut section = String::new();
    let mut previous = "";
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, _)) = trimmed.trim_start_matches("# ").split_once(" = ") {
            if !key.contains(' ') {
                assert!(
                    previous.starts_with('#'),
                    "key `{key}` has no comment above it"
                );
                documented.insert(if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                });
            }
        }
        previous = trimmed;
    }
    let mut expected = BTreeSet::new();
    let mut defaults = serde_json::to_value(Config::default()).unwrap();
    defaults["source"]["collections"] = json!(["x"]);
    defaults["checkpoint"]["path"] = json!("x");
    leaf_paths(&defaults, String::new(), &mut expected);
    assert_eq!(documented, expected);
}

fn leaf_paths(v: &serde_json::Value, prefix: String, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(v, p, out);
            }
        }
        _ => {
            out.insert(prefix);
        }
    }
}
