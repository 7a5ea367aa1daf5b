//! Logging: text on a terminal, JSON when `log.format = "json"`, level from config or `RUST_LOG`.
// OWNER: ops helper.

use crate::config::LogConfig;

/// Installs the global subscriber once (later calls are no-ops, so tests may call it freely).
pub fn init(log: &LogConfig) {
    let _ = log;
    todo!("ops")
}
