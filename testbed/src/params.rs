//! Server parameters a test may change (`setParameter` on `admin`, `--setParameter NAME=VALUE`
//! at startup, [`crate::TestbedOptions`] when embedded), and the TTL monitor they drive: a
//! background pass every `ttlMonitorSleepSecs` (default 60, as mongod) while `ttlMonitorEnabled`.

use crate::error::{code, CmdError, CmdResult};
use crate::store::Store;
use bson::{doc, Bson, DateTime, Document};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// mongod's default `ttlMonitorSleepSecs`.
pub const DEFAULT_TTL_MONITOR_SLEEP_SECS: u64 = 60;

/// The settable parameters.
pub(crate) struct Parameters {
    /// Seconds between TTL passes; a change restarts the current wait.
    ttl_sleep_secs: watch::Sender<u64>,
    ttl_enabled: AtomicBool,
}

impl Parameters {
    pub fn new(ttl_sleep_secs: u64) -> Parameters {
        Parameters {
            ttl_sleep_secs: watch::channel(ttl_sleep_secs.max(1)).0,
            ttl_enabled: AtomicBool::new(true),
        }
    }

    /// The parameters `getParameter` reports.
    pub fn current(&self) -> Document {
        doc! {
            "ttlMonitorSleepSecs": *self.ttl_sleep_secs.borrow() as i32,
            "ttlMonitorEnabled": self.ttl_enabled.load(Ordering::Relaxed),
        }
    }

    /// Sets one parameter; returns its previous value (`was`).
    pub fn set(&self, name: &str, value: &Bson) -> CmdResult<Bson> {
        match name {
            "ttlMonitorSleepSecs" => {
                let secs = match value {
                    Bson::Int32(i) => i64::from(*i),
                    Bson::Int64(i) => *i,
                    Bson::Double(d) if d.fract() == 0.0 => *d as i64,
                    _ => return Err(CmdError::bad_value("ttlMonitorSleepSecs must be a number")),
                };
                if secs < 1 {
                    return Err(CmdError::bad_value(
                        "ttlMonitorSleepSecs must be greater than or equal to 1",
                    ));
                }
                let was = self.ttl_sleep_secs.send_replace(secs as u64);
                Ok(Bson::Int32(was as i32))
            }
            "ttlMonitorEnabled" => {
                let Bson::Boolean(on) = value else {
                    return Err(CmdError::bad_value("ttlMonitorEnabled must be a boolean"));
                };
                Ok(Bson::Boolean(self.ttl_enabled.swap(*on, Ordering::Relaxed)))
            }
            other => Err(CmdError::new(
                code::INVALID_OPTIONS,
                "InvalidOptions",
                format!("attempted to set unrecognized parameter [{other}]"),
            )),
        }
    }

    /// `NAME=VALUE` from the command line, the value parsed as an integer, a boolean or a string.
    pub fn set_from_arg(&self, arg: &str) -> Result<(), String> {
        let (name, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("--setParameter {arg}: expected NAME=VALUE"))?;
        let value = match value {
            "true" => Bson::Boolean(true),
            "false" => Bson::Boolean(false),
            v => v
                .parse::<i64>()
                .map(Bson::Int64)
                .unwrap_or_else(|_| Bson::String(v.into())),
        };
        self.set(name, &value)
            .map(|_| ())
            .map_err(|e| format!("--setParameter {arg}: {}", e.errmsg))
    }
}

/// `setParameter` (admin only): sets every named parameter, replies `{was}` of the first.
pub(crate) fn set_parameter(params: &Parameters, db: &str, cmd: &Document) -> CmdResult<Document> {
    if db != "admin" {
        return Err(CmdError::new(
            13,
            "Unauthorized",
            "setParameter may only be run against the admin database.",
        ));
    }
    let mut was = None;
    for (k, v) in cmd.iter().skip(1) {
        if k.starts_with('$') || matches!(k.as_str(), "lsid" | "comment" | "apiVersion") {
            continue;
        }
        let old = params.set(k, v)?;
        was.get_or_insert(old);
    }
    match was {
        Some(was) => Ok(doc! {"was": was}),
        None => Err(CmdError::bad_value(
            "no option found to set, use help:true to see options",
        )),
    }
}

/// Runs TTL passes until `shutdown` flips: waits `ttlMonitorSleepSecs` (restarted when it is
/// changed), then deletes what has expired, unless `ttlMonitorEnabled` is false.
pub(crate) async fn ttl_monitor(
    store: Arc<Store>,
    params: Arc<Parameters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sleep = params.ttl_sleep_secs.subscribe();
    loop {
        let secs = *sleep.borrow_and_update();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
            _ = sleep.changed() => continue,
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        if params.ttl_enabled.load(Ordering::Relaxed) {
            let n = store.expire_ttl(DateTime::now());
            if n > 0 {
                tracing::debug!(deleted = n, "TTL monitor pass");
            }
        }
    }
}
