//! The figment layers and error messages that name the key, its source, and what was expected.

use super::env::EnvLayer;
use super::{Config, ConfigError};
use figment::error::{Kind, OneOf};
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use std::path::Path;

/// Defaults < file < environment < overrides, deserialized (not yet validated).
pub(super) fn extract(
    file: Option<&Path>,
    overrides: serde_json::Value,
) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "config file {}: not found",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(EnvLayer::new());
    match overrides {
        serde_json::Value::Null => {}
        serde_json::Value::Object(ref map) if map.is_empty() => {}
        serde_json::Value::Object(_) => figment = figment.merge(Serialized::defaults(overrides)),
        other => {
            return Err(ConfigError(format!(
                "command-line overrides must be a map, got {other}"
            )))
        }
    }
    figment.extract::<Config>().map_err(describe)
}

/// One message for all problems figment found, each naming its key and where it came from.
fn describe(err: figment::Error) -> ConfigError {
    let parts: Vec<String> = err.into_iter().map(|e| describe_one(&e)).collect();
    ConfigError(crate::config::redact_text(&parts.join("; ")))
}

fn describe_one(e: &figment::Error) -> String {
    let path = e.path.join(".");
    let what = match &e.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path ends with the unknown field itself.
            let parent = e.path.len().saturating_sub(1);
            let place = match e.path[..parent].join(".") {
                p if p.is_empty() => "the top level".to_string(),
                p => p,
            };
            format!(
                "unknown field `{field}` in {place}; expected {}",
                OneOf(expected)
            )
        }
        Kind::UnknownVariant(value, expected) => {
            format!("{path} = \"{value}\": expected {}", OneOf(expected))
        }
        Kind::InvalidType(actual, expected) => {
            format!("{path}: expected {expected}, found {actual}")
        }
        Kind::InvalidValue(actual, expected) => {
            format!("{path}: invalid value {actual}, expected {expected}")
        }
        other if path.is_empty() => other.to_string(),
        other => format!("{path}: {other}"),
    };
    format!("{what}{}", origin(e))
}

/// ` (from TOML file x.toml)`, ` (from environment variable REPLICATOR_APPLY__WORKERS)`,
/// ` (from command line)`.
fn origin(e: &figment::Error) -> String {
    let Some(md) = &e.metadata else {
        return String::new();
    };
    if let Some(source) = &md.source {
        if md.name.contains("TOML") {
            return format!(" (from {} {source})", md.name);
        }
        // Serialized providers: the defaults or the command-line overrides.
        return " (from command line)".to_string();
    }
    match &e.profile {
        Some(profile) => format!(" (from {} {})", md.name, md.interpolate(profile, &e.path)),
        None => format!(" (from {})", md.name),
    }
}
