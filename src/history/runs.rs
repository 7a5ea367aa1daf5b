//! The run recorder: [`RunLog`] collects what this run does from the named events of
//! [`crate::ops::events`] (phase, copy batches, DDL, errors; resync jobs through
//! [`RunLog::record_resync`]); [`attach`] gives it the store beside the checkpoint, prunes runs
//! older than `history.runs_retention`, closes a previous run that never recorded its end as
//! `unknown`, and writes this run's record every [`FLUSH_EVERY`] while it changes, and once
//! more when [`Recording::finish`] records the exit.

use crate::config::Config;
use crate::error::Error;
use crate::history::record::{push_bounded, Copied, Entry, Exit, Resync, Run};
use crate::history::store::{self, RunStore};
use crate::ops::labels::Phase;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a changed record is written (and how stale `last_seen_at` of a killed run is).
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Previous runs read at start (the API shows at most this many).
pub const MAX_LOADED: usize = 1000;
/// `GET /api/v1/runs` without `?limit=`.
pub const DEFAULT_LIMIT: usize = 20;
/// How long the last write of a finished run may take.
const FINAL_WRITE: Duration = Duration::from_secs(5);

fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

/// This process's run and the runs before it (shared by the reporter and the API).
pub struct RunLog {
    inner: Mutex<Inner>,
}

struct Inner {
    current: Run,
    previous: Vec<Run>,
    /// Changed since the last write.
    dirty: bool,
    /// The signal that asked this run to stop.
    signal: Option<&'static str>,
    /// The previous runs were read from the store (it is attached once both sides connect;
    /// until then only this run is known).
    loaded: bool,
}

impl Default for RunLog {
    fn default() -> Self {
        let at = now_ms();
        let current = Run {
            id: bson::oid::ObjectId::new().to_hex(),
            version: env!("CARGO_PKG_VERSION").into(),
            started_ms: at,
            last_seen_ms: at,
            ..Default::default()
        };
        RunLog {
            inner: Mutex::new(Inner {
                current,
                previous: Vec::new(),
                dirty: true,
                signal: None,
                loaded: false,
            }),
        }
    }
}

impl RunLog {
    fn change(&self, f: impl FnOnce(&mut Run)) {
        let mut inner = self.inner.lock();
        f(&mut inner.current);
        inner.dirty = true;
    }

    /// A phase change (the reporter calls it only when the phase differs).
    pub fn phase(&self, phase: Phase) {
        self.change(|r| {
            let entry = Entry {
                what: phase.as_str().into(),
                at_ms: now_ms(),
            };
            push_bounded(&mut r.phases, entry);
        });
    }

    /// `n` documents written into `collection` by a copy.
    pub fn copied(&self, collection: &str, n: u64) {
        self.change(
            |r| match r.copies.iter_mut().find(|c| c.collection == collection) {
                Some(c) => c.documents += n,
                None => push_bounded(
                    &mut r.copies,
                    Copied {
                        collection: collection.into(),
                        documents: n,
                    },
                ),
            },
        );
    }

    /// A DDL operation applied (`description`: operation and collection names).
    pub fn ddl(&self, description: &str) {
        self.change(|r| {
            r.ddl_applied += 1;
            let entry = Entry {
                what: description.into(),
                at_ms: now_ms(),
            };
            push_bounded(&mut r.ddl, entry);
        });
    }

    /// One error of `kind` (the `errors_total{kind}` label).
    pub fn error(&self, kind: &str) {
        self.change(|r| *r.errors.entry(kind.into()).or_insert(0) += 1);
    }

    /// A resync job of `collection` finished with `counts` (e.g. `[("copied", 10), ("deleted", 2)]`).
    pub fn record_resync(&self, collection: &str, counts: &[(&str, u64)]) {
        self.change(|r| {
            let resync = Resync {
                collection: collection.into(),
                at_ms: now_ms(),
                counts: counts.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            };
            push_bounded(&mut r.resyncs, resync);
        });
    }

    /// The run was asked to stop by `name` (`SIGTERM`, `SIGINT`).
    pub fn signal(&self, name: &'static str) {
        self.inner.lock().signal = Some(name);
    }

    /// `GET /api/v1/runs`: this run, then the previous ones, newest first, at most `limit`.
    pub fn to_json(&self, limit: usize, retention: &str) -> Value {
        let inner = self.inner.lock();
        let runs: Vec<Value> = std::iter::once(inner.current.to_json(true))
            .chain(inner.previous.iter().map(|r| r.to_json(false)))
            .take(limit)
            .collect();
        json!({ "runs": runs, "retention": retention, "loaded": inner.loaded })
    }

    /// The exit of a finished run: an error (kind, redacted message), else a signal, else a stop.
    fn exit_of(&self, outcome: Result<(), &Error>) -> Exit {
        match outcome {
            Err(e) => Exit {
                reason: "error".into(),
                kind: Some(e.metric_kind().into()),
                message: Some(crate::config::redact_text(
                    &crate::error::redact::redact_values(&e.to_string()),
                )),
            },
            Ok(()) => match self.inner.lock().signal {
                Some(name) => Exit {
                    reason: "signal".into(),
                    kind: None,
                    message: Some(name.into()),
                },
                None => Exit {
                    reason: "stopped".into(),
                    kind: None,
                    message: None,
                },
            },
        }
    }

    /// The current record to write, if it changed (`last_seen` stamped now).
    fn take_dirty(&self, pair: &str) -> Option<Run> {
        let mut inner = self.inner.lock();
        if !inner.dirty {
            return None;
        }
        inner.dirty = false;
        inner.current.pair = pair.into();
        inner.current.last_seen_ms = now_ms();
        Some(inner.current.clone())
    }

    fn mark_dirty(&self) {
        self.inner.lock().dirty = true;
    }
}

/// Writes the run's record while the run lasts; [`Recording::finish`] writes its end.
pub struct Recording {
    log: Arc<RunLog>,
    store: Option<Arc<dyn RunStore>>,
    pair: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Opens the store beside the checkpoint, prunes, closes unfinished runs as `unknown`, loads
/// the previous runs and starts writing this one. History is best effort: a store that fails
/// is logged and the run goes on.
pub async fn attach(cfg: &Config, target: &mongodb::Client, log: Arc<RunLog>) -> Recording {
    let pair = format!("{}->{}", cfg.source.database, cfg.target.database);
    let store = store::open(cfg, target);
    if let Some(s) = &store {
        let retention = cfg.history.runs_retention();
        let cutoff = now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        match s.prune(cutoff).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(runs = n, retention = %cfg.history.runs_retention, "pruned old runs from the run history")
            }
            Err(e) => tracing::warn!(error = %e, "could not prune the run history"),
        }
        match s.load(MAX_LOADED).await {
            Ok(mut runs) => {
                for r in runs.iter_mut().filter(|r| r.exit.is_none()) {
                    r.exit = Some(Exit {
                        reason: "unknown".into(),
                        kind: None,
                        message: Some("no end was recorded (killed or lost power)".into()),
                    });
                    if let Err(e) = s.save(r).await {
                        tracing::warn!(error = %e, "could not close an unfinished run in the run history");
                    }
                }
                let mut inner = log.inner.lock();
                inner.previous = runs;
                inner.loaded = true;
            }
            Err(e) => tracing::warn!(error = %e, "could not read the run history"),
        }
    }
    let task = store.clone().map(|s| {
        let (log, pair) = (log.clone(), pair.clone());
        tokio::spawn(async move {
            loop {
                flush(&log, s.as_ref(), &pair).await;
                tokio::time::sleep(FLUSH_EVERY).await;
            }
        })
    });
    Recording {
        log,
        store,
        pair,
        task,
    }
}

async fn flush(log: &RunLog, store: &dyn RunStore, pair: &str) {
    if let Some(run) = log.take_dirty(pair) {
        if let Err(e) = store.save(&run).await {
            log.mark_dirty();
            tracing::warn!(error = %e, "could not write the run history; retrying");
        }
    }
}

impl Recording {
    /// Records how the run ended and writes it (bounded: a target gone for good does not hold
    /// the exit up).
    pub async fn finish(mut self, outcome: Result<(), &Error>) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        let exit = self.log.exit_of(outcome);
        self.log.change(|r| {
            r.ended_ms = Some(now_ms());
            r.exit = Some(exit);
        });
        if let Some(s) = &self.store {
            if tokio::time::timeout(FINAL_WRITE, flush(&self.log, s.as_ref(), &self.pair))
                .await
                .is_err()
            {
                tracing::warn!("the run history could not record the end of this run in time");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Class, ErrorKind};

    #[test]
    fn the_current_run_counts_what_happened_by_name_and_kind() {
        let log = RunLog::default();
        log.phase(Phase::Copying);
        log.copied("orders", 3);
        log.copied("orders", 4);
        log.copied("items", 1);
        log.ddl("drop orders");
        log.error("network");
        log.error("network");
        log.record_resync("orders", &[("copied", 7), ("deleted", 1)]);
        let v = log.to_json(DEFAULT_LIMIT, "30d");
        let run = &v["runs"][0];
        assert_eq!(run["state"], "running");
        assert_eq!(run["exit"], Value::Null);
        assert_eq!(run["phases"][0]["phase"], "copying");
        assert_eq!(
            run["copies"][0],
            json!({"collection": "orders", "documents": 7})
        );
        assert_eq!(run["copied_documents"], 8);
        assert_eq!(run["ddl_applied"], 1);
        assert_eq!(run["errors"], json!({"network": 2}));
        assert_eq!(run["errors_total"], 2);
        assert_eq!(
            run["resyncs"][0]["counts"],
            json!({"copied": 7, "deleted": 1})
        );
    }

    #[test]
    fn exits_are_errors_with_kind_and_redacted_message_signals_or_stops() {
        let log = RunLog::default();
        assert_eq!(log.exit_of(Ok(())).reason, "stopped");
        log.signal("SIGTERM");
        let exit = log.exit_of(Ok(()));
        assert_eq!(
            (exit.reason.as_str(), exit.message.as_deref()),
            ("signal", Some("SIGTERM"))
        );
        let err = Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "x",
            "cannot reach mongodb://user:hunter2@db:27017/",
        );
        let exit = log.exit_of(Err(&err));
        assert_eq!(
            (exit.reason.as_str(), exit.kind.as_deref()),
            ("error", Some("config"))
        );
        assert!(!exit.message.unwrap().contains("hunter2"));
    }

    #[test]
    fn entries_are_bounded_but_counts_go_on() {
        let log = RunLog::default();
        for _ in 0..crate::history::record::MAX_ENTRIES + 50 {
            log.ddl("create c");
        }
        let v = log.to_json(1, "30d");
        assert_eq!(
            v["runs"][0]["ddl"].as_array().unwrap().len(),
            crate::history::record::MAX_ENTRIES
        );
        assert_eq!(
            v["runs"][0]["ddl_applied"],
            crate::history::record::MAX_ENTRIES as u64 + 50
        );
    }
}
