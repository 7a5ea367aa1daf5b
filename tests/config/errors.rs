//! Bad configuration: every error names the key (and where it came from), never a password.

use super::{toml_file, EnvGuard};
use mongo_replicator::config::{CheckpointStoreKind, Config, ConnectionString};
use serde_json::json;

fn load_err(toml: &str) -> String {
    let _env = EnvGuard::new();
    let (_dir, path) = toml_file(toml);
    Config::load(Some(&path), json!({}))
        .expect_err("config should be rejected")
        .to_string()
}

fn invalid(mutate: impl FnOnce(&mut Config)) -> String {
    let mut c = Config::default();
    mutate(&mut c);
    c.validate()
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn unknown_keys_are_named_with_their_section_and_file() {
    let msg = load_err("[apply]\nwrokers = 4\n");
    assert!(
        msg.starts_with("invalid configuration: unknown field `wrokers` in apply"),
        "{msg}"
    );
    assert!(
        msg.contains("`workers`") && msg.contains("replicator.toml"),
        "{msg}"
    );
    let msg = load_err("[apply.ddl]\ndrop_everything = true\n");
    assert!(
        msg.contains("unknown field `drop_everything` in apply.ddl"),
        "{msg}"
    );
    let msg = load_err("verbose = true\n");
    assert!(
        msg.contains("unknown field `verbose` in the top level"),
        "{msg}"
    );
}

#[test]
fn unknown_env_keys_name_the_variable() {
    let env = EnvGuard::new();
    env.set("REPLICATOR_APPLY__WRKERS", "3");
    let msg = Config::load(None, json!({})).unwrap_err().to_string();
    assert!(msg.contains("unknown field `wrkers` in apply"), "{msg}");
    assert!(msg.contains("REPLICATOR_APPLY__WRKERS"), "{msg}");
}

#[test]
fn wrong_types_name_the_key_and_expected_type() {
    let msg = load_err("[apply]\nworkers = \"many\"\n");
    assert!(
        msg.contains("apply.workers: expected usize, found string \"many\""),
        "{msg}"
    );
    let msg = load_err("[source]\ndatabase = 5\n");
    assert!(msg.contains("source.database: expected a string"), "{msg}");
    let msg = load_err("[http]\naddr = \"localhost\"\n");
    assert!(msg.contains("http.addr"), "{msg}");
    let env = EnvGuard::new();
    env.set("REPLICATOR_CHECKPOINT__INTERVAL_MS", "soon");
    let msg = Config::load(None, json!({})).unwrap_err().to_string();
    assert!(
        msg.contains("checkpoint.interval_ms: expected u64")
            && msg.contains("REPLICATOR_CHECKPOINT__INTERVAL_MS"),
        "{msg}"
    );
}

#[test]
fn invalid_enum_strings_name_the_key_from_any_layer() {
    let msg = load_err("[copy]\nmode = \"sometimes\"\n");
    assert!(msg.contains("copy.mode = \"sometimes\""), "{msg}");
    for (key, value) in [("log", "format"), ("checkpoint", "store")] {
        let msg = load_err(&format!("[{key}]\n{value} = \"bogus\"\n"));
        assert!(msg.contains(&format!("{key}.{value} = \"bogus\"")), "{msg}");
    }
    let msg = load_err("on_history_lost = \"ignore\"\n");
    assert!(
        msg.contains("on_history_lost = \"ignore\": expected `resync` or `fail`"),
        "{msg}"
    );
    let _env = EnvGuard::new();
    let msg = Config::load(None, json!({"apply": {"update_mode": "fast"}}))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("apply.update_mode = \"fast\"") && msg.contains("command line"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_named() {
    let _env = EnvGuard::new();
    let msg = Config::load(Some(std::path::Path::new("/nonexistent/r.toml")), json!({}))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/nonexistent/r.toml"), "{msg}");
}

#[test]
fn ranges_name_key_value_and_bounds() {
    assert_eq!(
        invalid(|c| c.apply.workers = 0),
        "invalid configuration: apply.workers = 0: must be between 1 and 256"
    );
    assert!(invalid(|c| c.apply.workers = 257).contains("apply.workers = 257"));
    assert!(invalid(|c| c.apply.writes_in_flight = 0)
        .contains("apply.writes_in_flight = 0: must be between 1 and 16"));
    assert!(invalid(|c| c.apply.writes_in_flight = 17).contains("apply.writes_in_flight = 17"));
    assert!(invalid(|c| c.apply.batch_size = 0)
        .contains("apply.batch_size = 0: must be between 1 and 100000"));
    assert!(invalid(|c| c.apply.batch_size = 100_001).contains("apply.batch_size = 100001"));
    assert!(invalid(|c| c.copy.batch_size = 0).contains("copy.batch_size = 0"));
    assert!(invalid(|c| c.copy.parallel_collections = 0).contains("copy.parallel_collections = 0"));
    assert!(invalid(|c| c.apply.max_batch_delay_ms = 600_000)
        .contains("apply.max_batch_delay_ms = 600000"));
    assert!(invalid(|c| c.apply.max_queued_bytes = 1000)
        .contains("apply.max_queued_bytes = 1000: must be between 1048576 and"));
    assert!(invalid(|c| c.checkpoint.interval_ms = 0)
        .contains("checkpoint.interval_ms = 0: must be greater than 0"));
}

#[test]
fn database_names_follow_mongodb_rules() {
    for bad in [
        "",
        "a.b",
        "a/b",
        "a\\b",
        "a b",
        "a\"b",
        "a$b",
        &"x".repeat(64),
    ] {
        let msg = invalid(|c| c.source.database = bad.to_string());
        assert!(msg.contains("source.database = "), "{bad:?}: {msg}");
        let msg = invalid(|c| c.target.database = bad.to_string());
        assert!(msg.contains("target.database = "), "{bad:?}: {msg}");
        let msg = invalid(|c| c.checkpoint.database = bad.to_string());
        assert!(msg.contains("checkpoint.database = "), "{bad:?}: {msg}");
    }
    let mut ok = Config::default();
    ok.source.database = "x".repeat(63);
    ok.validate().unwrap();
}

#[test]
fn replicating_onto_itself_is_rejected() {
    let msg = invalid(|c| c.target.database = c.source.database.clone());
    assert!(
        msg.contains("target.database = \"ordersDB\": same database and uri as the source"),
        "{msg}"
    );
    let msg = invalid(|c| {
        c.target.database = c.source.database.clone();
        c.target.uri = ConnectionString::new("mongodb://localhost:27017?replicaSet=rs0");
    });
    assert!(
        msg.contains("same database and uri"),
        "a trailing slash does not hide it: {msg}"
    );
    let mut other_host = Config::default();
    other_host.target.database = other_host.source.database.clone();
    other_host.target.uri = ConnectionString::new("mongodb://backup:27017/");
    other_host.validate().unwrap();
}

#[test]
fn checkpoint_store_rules() {
    let msg = invalid(|c| c.checkpoint.store = CheckpointStoreKind::File);
    assert!(
        msg.contains("checkpoint.path") && msg.contains("store = \"file\""),
        "{msg}"
    );
    let mut file = Config::default();
    file.checkpoint.store = CheckpointStoreKind::File;
    file.checkpoint.path = Some("/tmp/cp.json".into());
    file.validate().unwrap();
    let msg = invalid(|c| c.checkpoint.database = c.target.database.clone());
    assert!(
        msg.contains("checkpoint.database = \"ordersDB_backup\""),
        "{msg}"
    );
}

/// `local` is not replicated: a checkpoint there is lost with the member (a failover resumes
/// from nothing or a stale token). Refused at start, exit 2, naming the key.
#[test]
fn a_checkpoint_in_the_unreplicated_local_database_is_refused() {
    let msg = invalid(|c| c.checkpoint.database = "local".into());
    assert!(msg.contains("checkpoint.database = \"local\""), "{msg}");
    assert!(msg.contains("not replicated"), "{msg}");
    let (code, _, err) =
        crate::support::run_binary(&["run"], &[("REPLICATOR_CHECKPOINT__DATABASE", "local")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("checkpoint.database"), "{err}");
}

#[test]
fn uris_and_collections_and_log_level() {
    let msg = invalid(|c| c.source.uri = ConnectionString::new("localhost:27017"));
    assert!(
        msg.contains("source.uri = localhost:27017: must be a connection string"),
        "{msg}"
    );
    let msg = invalid(|c| c.target.uri = ConnectionString::new("http://x"));
    assert!(msg.contains("target.uri"), "{msg}");
    let mut srv = Config::default();
    srv.target.uri = ConnectionString::new("mongodb+srv://u:p@cluster0.example.net/");
    srv.validate().unwrap();
    assert!(invalid(|c| c.source.collections = Some(vec![])).contains("source.collections"));
    assert!(
        invalid(|c| c.source.collections = Some(vec!["a".into(), "".into()]))
            .contains("must not be empty")
    );
    assert!(
        invalid(|c| c.source.collections = Some(vec!["a$b".into()])).contains("must not contain $")
    );
    assert!(invalid(|c| c.log.level = "".into()).contains("log.level"));
    assert!(invalid(|c| c.log.level = "info,=[".into()).contains("log.level"));
}

#[test]
fn all_problems_reported_at_once() {
    let msg = invalid(|c| {
        c.apply.workers = 0;
        c.copy.batch_size = 0;
    });
    assert!(
        msg.contains("apply.workers = 0") && msg.contains("copy.batch_size = 0"),
        "{msg}"
    );
}

#[test]
fn passwords_never_appear_in_errors() {
    let msg = invalid(|c| c.source.uri = ConnectionString::new("mongodb:/u:hunter2@h"));
    assert!(!msg.contains("hunter2"), "{msg}");
    let msg = invalid(|c| {
        c.source.uri = ConnectionString::new("mongodb://u:hunter2@h/");
        c.target.uri = ConnectionString::new("mongodb://u:hunter2@h/");
        c.target.database = c.source.database.clone();
    });
    assert!(
        msg.contains("same database") && !msg.contains("hunter2"),
        "{msg}"
    );
    let msg = load_err("[apply]\nworkers = \"mongodb://u:hunter2@h/\"\n");
    assert!(
        msg.contains("apply.workers") && !msg.contains("hunter2"),
        "{msg}"
    );
    let c = Config {
        source: mongo_replicator::config::SourceConfig {
            uri: ConnectionString::new("mongodb://u:hunter2@h/"),
            database: "d".into(),
            collections: None,
        },
        ..Config::default()
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert!(!c.source.uri.to_string().contains("hunter2"));
}
