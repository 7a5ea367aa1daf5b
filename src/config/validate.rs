//! Value checks after deserialization; every message names the key and its (redacted) value.

use super::{CheckpointStoreKind, Config, ConfigError, WriteConcernSetting};
use std::fmt::Display;
use std::time::Duration;

pub const MAX_WORKERS: usize = 256;
pub const MAX_BATCH_SIZE: usize = 100_000;
pub const MAX_PARALLEL_COLLECTIONS: usize = 256;
pub const MAX_BATCH_DELAY_MS: u64 = 60_000;
/// `apply.delay_seconds` upper bound: a week (the source's oplog must keep that much).
const MAX_APPLY_DELAY_SECONDS: usize = 7 * 24 * 3600;
/// `apply.hold.deletes_per_minute` upper bound (the window keeps one timestamp per delete).
const MAX_DELETES_PER_MINUTE: usize = 1_000_000;
/// `apply.max_parked_documents` upper bound (each entry is kept in the checkpoint).
const MAX_PARKED_DOCUMENTS: usize = 1_000_000;
/// `apply.writes_in_flight` at most: more only queues on the target.
pub const MAX_WRITES_IN_FLIGHT: usize = 16;
/// `apply.max_queued_bytes` bounds: 1 MiB (one large document must fit) to 64 GiB.
pub const MIN_QUEUED_BYTES: usize = 1024 * 1024;
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024 * 1024;
/// `history.runs_retention` bounds: at least an hour (the current run is always kept), at most
/// ten years.
const MIN_RUNS_RETENTION: Duration = Duration::from_secs(3600);
/// `history.retention` lower bound: a few seconds (tests prune quickly; a real window is days).
const MIN_HISTORY_RETENTION: Duration = Duration::from_secs(5);
/// `alerts.max_pause` lower bound: the rule's `for:` evaluates per minute.
const MIN_MAX_PAUSE: Duration = Duration::from_secs(60);
const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 86_400);
/// A replica set has at most 50 members.
pub const MAX_WRITE_CONCERN_NODES: u32 = 50;
/// The database a replica set does not replicate: a checkpoint there is lost with the member
/// that holds it (a failover resumes from nothing or from a stale token).
const UNREPLICATED_DATABASE: &str = "local";
/// MongoDB database names are shorter than 64 bytes.
const MAX_DB_NAME_BYTES: usize = 63;
const DB_NAME_FORBIDDEN: &[char] = &['/', '\\', '.', ' ', '"', '$', '\0'];

/// Every problem found, joined: one run tells the operator everything to fix.
pub(super) fn validate(c: &Config) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    let mut check = |key: &str, value: &dyn Display, problem: Option<String>| {
        if let Some(p) = problem {
            problems.push(format!("{key} = {value}: {p}"));
        }
    };
    check(
        "source.uri",
        &shown_uri(c.source.uri.expose()),
        uri_problem(c.source.uri.expose()),
    );
    check(
        "target.uri",
        &shown_uri(c.target.uri.expose()),
        uri_problem(c.target.uri.expose()),
    );
    check(
        "source.database",
        &quoted(&c.source.database),
        db_name_problem(&c.source.database),
    );
    check(
        "target.database",
        &quoted(&c.target.database),
        db_name_problem(&c.target.database),
    );
    check(
        "checkpoint.database",
        &quoted(&c.checkpoint.database),
        db_name_problem(&c.checkpoint.database),
    );
    check(
        "target.write_concern",
        &c.target.write_concern,
        write_concern_problem(&c.target.write_concern),
    );
    if let Some(list) = &c.source.collections {
        let shown = format!("{list:?}");
        if list.is_empty() {
            check(
                "source.collections",
                &shown,
                Some("list at least one collection, or omit the key to replicate all".into()),
            );
        }
        for name in list {
            check("source.collections", &shown, collection_problem(name));
        }
    }
    let same_uri = normalized(c.source.uri.expose()) == normalized(c.target.uri.expose());
    if same_uri && c.source.database == c.target.database {
        check(
            "target.database",
            &quoted(&c.target.database),
            Some("same database and uri as the source (it would replicate onto itself)".into()),
        );
    }
    match c.checkpoint.store {
        CheckpointStoreKind::File if c.checkpoint.path.is_none() => check(
            "checkpoint.path",
            &"(unset)",
            Some("required when checkpoint.store = \"file\"".into()),
        ),
        CheckpointStoreKind::Target => {
            let db = &c.checkpoint.database;
            if db == UNREPLICATED_DATABASE {
                check(
                    "checkpoint.database",
                    &quoted(db),
                    Some("must be a replicated database (\"local\" is not replicated)".into()),
                );
            } else if *db == c.target.database || (same_uri && *db == c.source.database) {
                check(
                    "checkpoint.database",
                    &quoted(db),
                    Some("must differ from the replicated databases".into()),
                );
            }
        }
        CheckpointStoreKind::File => {}
    }
    check(
        "checkpoint.interval_ms",
        &c.checkpoint.interval_ms,
        positive(c.checkpoint.interval_ms),
    );
    check(
        "copy.batch_size",
        &c.copy.batch_size,
        range(c.copy.batch_size as usize, 1, MAX_BATCH_SIZE),
    );
    check(
        "copy.parallel_collections",
        &c.copy.parallel_collections,
        range(c.copy.parallel_collections, 1, MAX_PARALLEL_COLLECTIONS),
    );
    check(
        "apply.workers",
        &c.apply.workers,
        range(c.apply.workers, 1, MAX_WORKERS),
    );
    check(
        "apply.writes_in_flight",
        &c.apply.writes_in_flight,
        range(c.apply.writes_in_flight, 1, MAX_WRITES_IN_FLIGHT),
    );
    check(
        "apply.delay_seconds",
        &c.apply.delay_seconds,
        range(c.apply.delay_seconds as usize, 0, MAX_APPLY_DELAY_SECONDS),
    );
    check(
        "apply.hold.deletes_per_minute",
        &c.apply.hold.deletes_per_minute,
        range(
            c.apply.hold.deletes_per_minute as usize,
            0,
            MAX_DELETES_PER_MINUTE,
        ),
    );
    check(
        "apply.max_parked_documents",
        &c.apply.max_parked_documents,
        range(c.apply.max_parked_documents, 1, MAX_PARKED_DOCUMENTS),
    );
    check(
        "apply.batch_size",
        &c.apply.batch_size,
        range(c.apply.batch_size, 1, MAX_BATCH_SIZE),
    );
    check(
        "apply.max_batch_delay_ms",
        &c.apply.max_batch_delay_ms,
        range(
            c.apply.max_batch_delay_ms as usize,
            0,
            MAX_BATCH_DELAY_MS as usize,
        ),
    );
    check(
        "apply.max_queued_bytes",
        &c.apply.max_queued_bytes,
        range(c.apply.max_queued_bytes, MIN_QUEUED_BYTES, MAX_QUEUED_BYTES),
    );
    check(
        "log.level",
        &quoted(&c.log.level),
        log_level_problem(&c.log.level),
    );
    ha_problems(c, &mut check);
    super::notify::problems(&c.notify, &mut check);
    super::verify::problems(&c.verify, &mut check);
    super::sync::problems(c, &mut check);
    check(
        "history.runs_retention",
        &quoted(&c.history.runs_retention),
        duration_problem(&c.history.runs_retention, MIN_RUNS_RETENTION),
    );
    check(
        "history.retention",
        &quoted(&c.history.retention),
        duration_problem(&c.history.retention, MIN_HISTORY_RETENTION),
    );
    if let Some(db) = &c.history.database {
        check("history.database", &quoted(db), db_name_problem(db));
    }
    check(
        "alerts.max_pause",
        &quoted(&c.alerts.max_pause),
        duration_problem(&c.alerts.max_pause, MIN_MAX_PAUSE),
    );
    if let Some(problem) = http_problem(&c.http) {
        problems.push(problem);
    }
    namespace_problems(c, same_uri, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(crate::config::redact_text(
            &problems.join("; "),
        )))
    }
}

/// `ha.lease_seconds` bounds: the fencing margin needs at least 2 s; past 5 min a dead active
/// stops replication for too long.
pub const MIN_LEASE_SECONDS: u64 = 2;
pub const MAX_LEASE_SECONDS: u64 = 300;
/// `ha.name` is stored in the lease and shown in `/status`.
const MAX_HA_NAME_BYTES: usize = 128;

fn ha_problems(c: &Config, check: &mut impl FnMut(&str, &dyn Display, Option<String>)) {
    if !c.ha.enabled {
        return;
    }
    if c.checkpoint.store == CheckpointStoreKind::File {
        check(
            "ha.enabled",
            &true,
            Some("needs checkpoint.store = \"target\" (the lease and the epoch-fenced checkpoint live on the target, by its clock); checkpoint.store = \"file\" cannot fence a second instance".into()),
        );
    }
    check(
        "ha.lease_seconds",
        &c.ha.lease_seconds,
        range(
            c.ha.lease_seconds as usize,
            MIN_LEASE_SECONDS as usize,
            MAX_LEASE_SECONDS as usize,
        ),
    );
    let name = &c.ha.name;
    let problem = if name.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if name.len() > MAX_HA_NAME_BYTES {
        Some(format!("must be at most {MAX_HA_NAME_BYTES} bytes"))
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else {
        None
    };
    check("ha.name", &quoted(name), problem);
    match &c.ha.local_uri {
        Some(uri) => check(
            "ha.local_uri",
            &shown_uri(uri.expose()),
            uri_problem(uri.expose()),
        ),
        None if c.ha.prefer_local_primary => check(
            "ha.prefer_local_primary",
            &true,
            Some("needs ha.local_uri (this instance's own mongod, e.g. \"mongodb://localhost:27017/?directConnection=true\")".into()),
        ),
        None => {}
    }
}

/// The token rules: never empty, one source only, and required on a non-loopback address
/// (anyone who reaches it could pause the replicator) unless `allow_unauthenticated`.
fn http_problem(h: &crate::config::HttpConfig) -> Option<String> {
    if h.token
        .as_ref()
        .is_some_and(|t| t.expose().trim().is_empty())
    {
        return Some("http.token is empty: set a token or remove the key".into());
    }
    if h.token.is_some() && h.token_file.is_some() {
        return Some("http.token and http.token_file are both set: keep one".into());
    }
    let has_token = h.token.is_some() || h.token_file.is_some();
    if !has_token && !h.addr.ip().is_loopback() && !h.allow_unauthenticated {
        return Some(format!(
            "http.token is required because http.addr = {} is not a loopback address: set http.token, http.token_file or REPLICATOR_HTTP__TOKEN (or http.allow_unauthenticated = true to serve the control API to anyone who can reach it)",
            h.addr
        ));
    }
    None
}

/// A duration key (`"30d"`) that must lie between `min` and ten years.
fn duration_problem(text: &str, min: Duration) -> Option<String> {
    match super::duration::parse(text) {
        Err(e) => Some(e),
        Ok(d) if d < min || d > MAX_DURATION => Some(format!(
            "must be between {} and 3660d",
            super::duration::prometheus(min)
        )),
        Ok(_) => None,
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn range(v: usize, min: usize, max: usize) -> Option<String> {
    (v < min || v > max).then(|| format!("must be between {min} and {max}"))
}

fn positive(v: u64) -> Option<String> {
    (v == 0).then(|| "must be greater than 0".to_string())
}

fn uri_problem(uri: &str) -> Option<String> {
    let ok = ["mongodb://", "mongodb+srv://"]
        .iter()
        .any(|s| uri.starts_with(s) && uri.len() > s.len());
    (!ok).then(|| "must be a connection string starting with mongodb:// or mongodb+srv://".into())
}

/// A malformed uri is not parsed reliably by the redactor: hide it whole when it may hold credentials.
fn shown_uri(uri: &str) -> String {
    if uri_problem(uri).is_some() && uri.contains('@') {
        "(hidden: it may contain credentials)".to_string()
    } else {
        crate::config::redact_uri(uri)
    }
}

/// The uri with a trailing `/` before the options (or at the end) removed, for comparison.
fn normalized(uri: &str) -> String {
    let (base, query) = uri
        .split_once('?')
        .map_or((uri, None), |(b, q)| (b, Some(q)));
    let base = base.trim_end_matches('/');
    match query {
        Some(q) => format!("{base}?{q}"),
        None => base.to_string(),
    }
}

fn db_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("must not be empty".into())
    } else if name.len() > MAX_DB_NAME_BYTES {
        Some(format!(
            "must be shorter than {} bytes",
            MAX_DB_NAME_BYTES + 1
        ))
    } else if name.contains(DB_NAME_FORBIDDEN) {
        Some("must not contain any of / \\ . space \" $".into())
    } else {
        None
    }
}

fn collection_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("collection names must not be empty".into())
    } else if name.contains(['$', '\0']) {
        Some(format!("collection name {name:?} must not contain $"))
    } else {
        None
    }
}

fn write_concern_problem(wc: &WriteConcernSetting) -> Option<String> {
    match wc {
        WriteConcernSetting::Mode(m) if m == "majority" => None,
        WriteConcernSetting::Nodes(n) if (1..=MAX_WRITE_CONCERN_NODES).contains(n) => None,
        _ => Some(format!(
            "must be \"majority\" or a number of members between 1 and {MAX_WRITE_CONCERN_NODES}"
        )),
    }
}

fn log_level_problem(level: &str) -> Option<String> {
    if level.trim().is_empty() {
        return Some("must not be empty (e.g. \"info\" or \"mongo_replicator=debug,info\")".into());
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .err()
        .map(|e| format!("not a valid log filter: {e}"))
}

/// `[[namespaces]]`: each rule compiles (the error names it), and two-way sync, which keeps one
/// database on each side, is not combined with it.
fn namespace_problems(c: &Config, same_uri: bool, problems: &mut Vec<String>) {
    if c.namespaces.is_empty() {
        return;
    }
    match crate::source::namespaces::Namespaces::compile(
        &c.namespaces,
        &c.source.database,
        &c.target.database,
    ) {
        Err(e) => problems.push(e.to_string()),
        Ok(rules) if same_uri => {
            if let Some(e) = rules.same_deployment_problem() {
                problems.push(e.to_string());
            }
        }
        Ok(_) => {}
    }
    if c.source.collections.is_some() {
        problems.push(
            "source.collections: not used with [[namespaces]] (the rules choose the \
             collections): remove one of them"
                .into(),
        );
    }
    if c.local.is_some() || c.remote.is_some() {
        problems.push(
            "namespaces: not available with two-way sync ([local] / [remote] keep one database \
             each side): remove [[namespaces]] or use local.collections"
                .into(),
        );
    }
}
