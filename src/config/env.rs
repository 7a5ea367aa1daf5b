//! The `REPLICATOR_*` environment layer. Figment's `Env` parses every value (`123` becomes a
//! number), which would reject a database named `2024`; here keys whose setting is a string keep
//! the raw text, and the rest are parsed (numbers, booleans, arrays).

use super::Config;
use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

/// Environment variables with this prefix are configuration.
pub const ENV_PREFIX: &str = "REPLICATOR_";
/// Separator of nesting levels in variable names (`REPLICATOR_APPLY__WORKERS`).
pub const ENV_NESTING: &str = "__";

/// Settings that are strings although absent by default.
const OPTIONAL_STRING_KEYS: [&str; 1] = ["checkpoint.path"];

pub(super) struct EnvLayer {
    env: figment::providers::Env,
    string_keys: Vec<String>,
}

impl EnvLayer {
    pub(super) fn new() -> Self {
        let mut string_keys = Vec::new();
        let defaults = serde_json::to_value(Config::default()).expect("defaults serialize");
        collect_string_paths(&defaults, String::new(), &mut string_keys);
        string_keys.extend(OPTIONAL_STRING_KEYS.iter().map(|k| k.to_string()));
        EnvLayer {
            env: figment::providers::Env::prefixed(ENV_PREFIX).split(ENV_NESTING),
            string_keys,
        }
    }
}

/// `REPLICATOR_APPLY__WORKERS` for the key path `apply.workers`.
pub(super) fn variable_name(path: &[&str]) -> String {
    format!(
        "{ENV_PREFIX}{}",
        path.join(ENV_NESTING).to_ascii_uppercase()
    )
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_: &Profile, k: &[&str]| variable_name(k))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (key, raw) in self.env.iter() {
            let value = if self.string_keys.iter().any(|k| key.as_str() == k) {
                Value::from(raw)
            } else {
                raw.parse().expect("figment value parsing is infallible")
            };
            if let Some(nested) = figment::util::nest(key.as_str(), value).into_dict() {
                for (k, v) in nested {
                    merge_into(&mut dict, k, v);
                }
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Deep merge so `REPLICATOR_APPLY__WORKERS` and `REPLICATOR_APPLY__BATCH_SIZE` both survive.
fn merge_into(dict: &mut Dict, key: String, value: Value) {
    match (dict.get_mut(&key), value) {
        (Some(Value::Dict(_, existing)), Value::Dict(_, incoming)) => {
            for (k, v) in incoming {
                merge_into(existing, k, v);
            }
        }
        (_, value) => {
            dict.insert(key, value);
        }
    }
}

fn collect_string_paths(value: &serde_json::Value, prefix: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(_) => out.push(prefix),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect_string_paths(v, path, out);
            }
        }
        _ => {}
    }
}
