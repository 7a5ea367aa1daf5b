//! Built-in defaults, as named constants: the lowest configuration layer.

use super::*;

pub const SOURCE_URI: &str = "mongodb://localhost:27017/?replicaSet=rs0";
pub const SOURCE_DATABASE: &str = "ordersDB";
pub const TARGET_URI: &str = SOURCE_URI;
pub const TARGET_DATABASE: &str = "ordersDB_backup";
/// Writes to the backup are acknowledged by a majority of its members.
pub const TARGET_WRITE_CONCERN: &str = "majority";
pub const CHECKPOINT_STORE: CheckpointStoreKind = CheckpointStoreKind::Target;
pub const CHECKPOINT_DATABASE: &str = "mongo_replicator";
pub const CHECKPOINT_INTERVAL_MS: u64 = 1000;
pub const COPY_MODE: CopyMode = CopyMode::Auto;
pub const COPY_BATCH_SIZE: u32 = 1000;
pub const COPY_PARALLEL_COLLECTIONS: usize = 4;
/// `apply.workers`: one writer by default. Writers running on several threads at once free the
/// driver's megabyte-sized reply and command buffers across threads: with 4 the replicator
/// spent 1.65x the bare client's CPU per event, with 1 (and 4 batches in flight) 1.28x, at the
/// same near-backup throughput (README "Performance", round 11). A backup a round trip of
/// milliseconds away wants more; with history on the tail runs `workers x writes_in_flight`
/// writers of one batch each ([`crate::tail::writer_count`]).
pub const APPLY_WORKERS: usize = 1;
pub const APPLY_BATCH_SIZE: usize = 1000;
pub const APPLY_MAX_BATCH_DELAY_MS: u64 = 50;
/// Bytes of write ops queued between the change stream and the writers (64 MiB).
pub const APPLY_MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
pub const APPLY_UPDATE_MODE: UpdateMode = UpdateMode::Delta;
/// Every DDL event is propagated unless switched off.
pub const DDL_ENABLED: bool = true;
pub const HTTP_ADDR: &str = "127.0.0.1:9464";
/// A non-loopback bind needs a token unless this is set on purpose.
pub const HTTP_ALLOW_UNAUTHENTICATED: bool = false;
pub const LOG_FORMAT: LogFormat = LogFormat::Text;
pub const LOG_LEVEL: &str = "info";
pub const ON_HISTORY_LOST: OnHistoryLost = OnHistoryLost::Resync;

impl Default for Config {
    fn default() -> Self {
        Config {
            source: SourceConfig {
                uri: ConnectionString::new(SOURCE_URI),
                database: SOURCE_DATABASE.into(),
                collections: None,
            },
            target: TargetConfig {
                uri: ConnectionString::new(TARGET_URI),
                database: TARGET_DATABASE.into(),
                write_concern: WriteConcernSetting::Mode(TARGET_WRITE_CONCERN.into()),
            },
            namespaces: Vec::new(),
            checkpoint: CheckpointConfig {
                store: CHECKPOINT_STORE,
                database: CHECKPOINT_DATABASE.into(),
                path: None,
                interval_ms: CHECKPOINT_INTERVAL_MS,
            },
            copy: CopyConfig {
                mode: COPY_MODE,
                batch_size: COPY_BATCH_SIZE,
                parallel_collections: COPY_PARALLEL_COLLECTIONS,
            },
            apply: ApplyConfig {
                workers: APPLY_WORKERS,
                batch_size: APPLY_BATCH_SIZE,
                max_batch_delay_ms: APPLY_MAX_BATCH_DELAY_MS,
                max_queued_bytes: APPLY_MAX_QUEUED_BYTES,
                update_mode: APPLY_UPDATE_MODE,
                on_refused: on_refused(),
                max_parked_documents: max_parked_documents(),
                ddl: DdlConfig::default(),
                writes_in_flight: writes_in_flight(),
                delay_seconds: APPLY_DELAY_SECONDS,
                hold: super::HoldConfig::default(),
            },
            http: HttpConfig {
                addr: HTTP_ADDR.parse().expect("valid default address"),
                token: None,
                token_file: None,
                allow_unauthenticated: HTTP_ALLOW_UNAUTHENTICATED,
            },
            log: LogConfig {
                format: LOG_FORMAT,
                level: LOG_LEVEL.into(),
            },
            history: HistoryConfig::default(),
            alerts: AlertsConfig::default(),
            on_history_lost: ON_HISTORY_LOST,
            ha: HaConfig::default(),
            notify: NotifyConfig::default(),
            verify: crate::config::VerifyConfig::default(),
            local: None,
            remote: None,
            conflicts: Default::default(),
            sync: Default::default(),
        }
    }
}

/// `ha.enabled`: one instance per pair unless asked.
pub const HA_ENABLED: bool = false;
/// `ha.lease_seconds`.
pub const HA_LEASE_SECONDS: u64 = 10;
/// `ha.prefer_local_primary`: the active stays where it is unless asked.
pub const HA_PREFER_LOCAL_PRIMARY: bool = false;
/// `ha.name` when the host name is unknown.
pub const HA_NAME_FALLBACK: &str = "mongo-replicator";

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            enabled: HA_ENABLED,
            lease_seconds: HA_LEASE_SECONDS,
            name: host_name(),
            prefer_local_primary: HA_PREFER_LOCAL_PRIMARY,
            local_uri: None,
        }
    }
}

/// The host name (`HOSTNAME`, as a pod sets it, else `/etc/hostname`), else [`HA_NAME_FALLBACK`].
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| HA_NAME_FALLBACK.to_string())
}

impl Default for DdlConfig {
    fn default() -> Self {
        DdlConfig {
            drop: DDL_ENABLED,
            rename: DDL_ENABLED,
            drop_database: DDL_ENABLED,
            create: DDL_ENABLED,
            create_indexes: DDL_ENABLED,
            drop_indexes: DDL_ENABLED,
            modify: DDL_ENABLED,
        }
    }
}

/// `apply.delay_seconds`: no delay.
pub const APPLY_DELAY_SECONDS: u64 = 0;

/// `apply.on_refused`: park refused documents.
pub const APPLY_ON_REFUSED: super::OnRefused = super::OnRefused::Park;
/// `apply.max_parked_documents`.
pub const APPLY_MAX_PARKED_DOCUMENTS: usize = 1000;

pub fn on_refused() -> super::OnRefused {
    APPLY_ON_REFUSED
}

pub fn max_parked_documents() -> usize {
    APPLY_MAX_PARKED_DOCUMENTS
}

/// Batches a writer has in flight at once (`apply.writes_in_flight`): above 1, the next batch
/// is sent while the previous one awaits the target. 4 by default, so the single default
/// writer still overlaps its round trips (README "Performance", rounds 8 and 11).
pub const APPLY_WRITES_IN_FLIGHT: usize = 4;

pub fn writes_in_flight() -> usize {
    APPLY_WRITES_IN_FLIGHT
}

/// `history.runs_retention`: a month of runs.
pub const HISTORY_RUNS_RETENTION: &str = "30d";
/// `alerts.max_pause`: a maintenance window longer than this is probably forgotten.
pub const ALERTS_MAX_PAUSE: &str = "30m";

/// `history.retention`: a week of changes to undo a mistake from.
pub const HISTORY_RETENTION: &str = "7d";

pub fn history_retention() -> String {
    HISTORY_RETENTION.into()
}

pub fn runs_retention() -> String {
    HISTORY_RUNS_RETENTION.into()
}

pub fn max_pause() -> String {
    ALERTS_MAX_PAUSE.into()
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            runs_retention: runs_retention(),
            enabled: false,
            retention: history_retention(),
            database: None,
        }
    }
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            max_pause: max_pause(),
        }
    }
}
