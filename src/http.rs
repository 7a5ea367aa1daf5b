//! The HTTP face: `/metrics`, `/healthz`, `/readyz`, `/status` (axum).
// OWNER: ops helper.

use crate::metrics::Metrics;
use crate::status::Status;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Binds `addr` (port 0 allowed) and serves until `cancel`; returns the bound address.
/// `/healthz` answers 503 once `cancel` is triggered.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    status: Status,
    cancel: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let _ = (addr, metrics, status, cancel);
    todo!("ops")
}
