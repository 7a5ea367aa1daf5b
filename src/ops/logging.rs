//! Logging: text on a terminal, JSON when `log.format = "json"`, level from config or `RUST_LOG`.
//!
//! Logs go to stderr so stdout stays free for command output (`verify` reports, `demo`).

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Used when neither `RUST_LOG` nor `log.level` parses as a filter.
const FALLBACK_LEVEL: &str = "info";

/// Installs the global subscriber once (later calls are no-ops, so tests may call it freely).
pub fn init(log: &LogConfig) {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let (filter, rejected) = filter_for(&log.level, rust_log.as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match log.format {
        LogFormat::Json => builder.json().with_current_span(false).try_init().is_ok(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
            .is_ok(),
    };
    if installed {
        if let Some(bad) = rejected {
            tracing::warn!(filter = %bad, fallback = FALLBACK_LEVEL, "log level not understood; using the fallback");
        }
    }
}

/// The filter to use: `RUST_LOG` when set and valid, else `level`, else [`FALLBACK_LEVEL`].
/// Also returns the first filter string that did not parse, so it can be reported once logging works.
pub fn filter_for(level: &str, rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    let mut rejected = None;
    for candidate in rust_log.into_iter().chain(Some(level)) {
        if candidate.trim().is_empty() {
            continue;
        }
        match EnvFilter::try_new(candidate) {
            Ok(filter) => return (filter, rejected),
            Err(_) => {
                rejected.get_or_insert_with(|| candidate.to_string());
            }
        }
    }
    (EnvFilter::new(FALLBACK_LEVEL), rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_the_configured_level() {
        let (filter, rejected) = filter_for("info", Some("mongo_replicator=trace"));
        assert_eq!(filter.to_string(), "mongo_replicator=trace");
        assert_eq!(rejected, None);
    }

    #[test]
    fn configured_level_is_used_without_rust_log() {
        let (filter, rejected) = filter_for("debug", None);
        assert_eq!(filter.to_string(), "debug");
        assert_eq!(rejected, None);
        let (filter, _) = filter_for("warn", Some("  "));
        assert_eq!(
            filter.to_string(),
            "warn",
            "a blank RUST_LOG counts as unset"
        );
    }

    #[test]
    fn unparsable_filters_fall_back_and_are_reported() {
        let (filter, rejected) = filter_for("debug", Some("mongo_replicator=[[nope"));
        assert_eq!(filter.to_string(), "debug");
        assert_eq!(rejected.as_deref(), Some("mongo_replicator=[[nope"));
        let (filter, rejected) = filter_for("=[[", None);
        assert_eq!(filter.to_string(), FALLBACK_LEVEL);
        assert_eq!(rejected.as_deref(), Some("=[["));
    }

    #[test]
    fn init_twice_is_harmless() {
        init(&LogConfig {
            format: LogFormat::Json,
            level: "info".into(),
        });
        init(&LogConfig {
            format: LogFormat::Text,
            level: "debug".into(),
        });
        tracing::info!("still logging after a second init");
    }
}
