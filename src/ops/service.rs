//! What every long-running command shares: metrics, status, the HTTP server, shutdown tokens.
//! `stop` ends reading and lets writers drain; `abort` (after the shutdown deadline) ends
//! retries that would otherwise wait for an unreachable side.

use crate::config::Config;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::ops::metrics::Metrics;
use crate::ops::status::Status;
use crate::ops::Reporter;
use crate::state::Position;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a graceful shutdown may take before retries are abandoned.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);

/// Whether a command serves the HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// `run`: the address must be free (probes and Prometheus rely on it).
    Required,
    /// `copy`: serve when the address is free; a running `run` may hold it.
    IfFree,
    /// `verify`: no listener at all.
    None,
}

pub struct Service {
    pub reporter: Reporter,
    pub position: Arc<Position>,
    pub stop: CancellationToken,
    /// The bound HTTP address, when serving.
    pub http_addr: Option<SocketAddr>,
}

impl Service {
    /// [`Service::start_with`] serving HTTP on `http.addr` (it must be free).
    pub async fn start(cfg: &Config) -> Result<Service> {
        Self::start_with(cfg, Http::Required).await
    }

    /// Creates the shared state and, per `http`, starts the HTTP server on `http.addr`.
    pub async fn start_with(cfg: &Config, http: Http) -> Result<Service> {
        let metrics = Metrics::new();
        metrics.set_max_pause(cfg.alerts.max_pause());
        // What `[[namespaces]]` selects: its one source database, or `*` for several.
        let (source_db, target_db) = match cfg.scope() {
            Ok(scope) => (
                scope.single_database().unwrap_or("*").to_string(),
                scope.default_target_database(),
            ),
            Err(_) => (cfg.source.database.clone(), cfg.target.database.clone()),
        };
        let status = Status::new(&source_db, &target_db);
        if let Some(collections) = &cfg.source.collections {
            status.pauses().set_known(collections.iter().cloned());
            metrics.init_paused(collections.iter().map(String::as_str));
        }
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        crate::notify::start(cfg, &status, &metrics, &stop);
        let http_addr = match http {
            Http::None => None,
            Http::Required | Http::IfFree => {
                let token = cfg.http.resolve_token().map_err(|e| {
                    Error::new(ErrorKind::Config, Class::Fatal, "http.token_file", e.0)
                })?;
                let endpoints = crate::ops::http::Endpoints {
                    metrics: metrics.clone(),
                    status: status.clone(),
                    token,
                    config: crate::config::redact_json(
                        &serde_json::to_value(cfg).unwrap_or_default(),
                    ),
                };
                match crate::ops::http::serve_endpoints(
                    cfg.http.addr,
                    endpoints,
                    stop.clone(),
                    crate::ops::http::SHUTDOWN_LINGER,
                )
                .await
                {
                    Ok(addr) => Some(addr),
                    Err(e) if http == Http::IfFree && e.kind() == std::io::ErrorKind::AddrInUse => {
                        tracing::warn!(addr = %cfg.http.addr, "http.addr is in use (a running replicator?): continuing without HTTP endpoints");
                        None
                    }
                    Err(e) => {
                        return Err(Error::new(
                            ErrorKind::Config,
                            Class::Fatal,
                            "http.addr",
                            format!("cannot listen on {}: {e}", cfg.http.addr),
                        ))
                    }
                }
            }
        };
        // Once stopping, give writers the deadline to drain, then abandon retries.
        let (s, a) = (stop.clone(), abort.clone());
        tokio::spawn(async move {
            s.cancelled().await;
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
            a.cancel();
        });
        Ok(Service {
            reporter: Reporter {
                metrics,
                status,
                abort,
            },
            position: Position::new(),
            stop,
            http_addr,
        })
    }

    /// Cancels `stop` on SIGTERM or SIGINT.
    pub fn stop_on_signals(&self) {
        let stop = self.stop.clone();
        let runs = self.reporter.status.runs().clone();
        tokio::spawn(async move {
            runs.signal(wait_for_signal().await);
            tracing::info!("shutdown requested: draining writers and writing the checkpoint");
            stop.cancel();
        });
    }
}

/// Waits for SIGTERM or SIGINT; returns its name (for the run history).
#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}
