//! What every long-running command shares: metrics, status, the HTTP server, shutdown tokens.
//! `stop` ends reading and lets writers drain; `abort` (after the shutdown deadline) ends
//! retries that would otherwise wait for an unreachable side.

use crate::config::Config;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::progress::Progress;
use crate::retry::Telemetry;
use crate::status::Status;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a graceful shutdown may take before retries are abandoned.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);

pub struct Service {
    pub telemetry: Telemetry,
    pub progress: Arc<Progress>,
    pub stop: CancellationToken,
    pub http_addr: SocketAddr,
}

impl Service {
    /// Creates the shared state and starts the HTTP server on `http.addr`.
    pub async fn start(cfg: &Config) -> Result<Service> {
        let metrics = Metrics::new();
        let status = Status::new(&cfg.source.database, &cfg.target.database);
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let http_addr =
            crate::http::serve(cfg.http.addr, metrics.clone(), status.clone(), stop.clone())
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        Class::Fatal,
                        "http.addr",
                        format!("cannot listen on {}: {e}", cfg.http.addr),
                    )
                })?;
        // Once stopping, give writers the deadline to drain, then abandon retries.
        let (s, a) = (stop.clone(), abort.clone());
        tokio::spawn(async move {
            s.cancelled().await;
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
            a.cancel();
        });
        Ok(Service {
            telemetry: Telemetry {
                metrics,
                status,
                cancel: abort,
            },
            progress: Progress::new(),
            stop,
            http_addr,
        })
    }

    /// Cancels `stop` on SIGTERM or SIGINT.
    pub fn stop_on_signals(&self) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: draining writers and writing the checkpoint");
            stop.cancel();
        });
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
