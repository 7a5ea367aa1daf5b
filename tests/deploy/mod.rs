//! Deploy files kept honest without Docker or a cluster: compose, Kubernetes, systemd and the
//! monitoring files. Shared helpers: reading repository files, the set of valid configuration
//! keys (taken from the `Config` type itself), and the metric catalogue (taken from what
//! `Metrics` renders).

mod compose;
mod k8s;
mod monitoring;

use mongo_replicator::config::Config;
use mongo_replicator::ops::metrics::Metrics;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Path of a file in the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

pub fn yaml(relative: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"))
}

/// Every document of a multi-document YAML file.
pub fn yaml_docs(relative: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(&read(relative))
        .map(|doc| {
            serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{relative}: {e}"))
        })
        .collect()
}

pub fn str_of<'a>(v: &'a serde_yaml::Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} should be a string, got {v:?}"))
}

/// A complete configuration in key shape. Deserializing it into `Config` (whose sections deny
/// unknown fields) proves each key exists; deploy files are checked against it.
fn complete_config() -> Value {
    json!({
        "source": { "uri": "mongodb://localhost:27017/?replicaSet=rs0", "database": "ordersDB", "collections": null },
        "target": { "uri": "mongodb://localhost:27017/?replicaSet=rs0", "database": "ordersDB_backup", "write_concern": "majority" },
        "checkpoint": { "store": "target", "database": "mongo_replicator", "path": null, "interval_ms": 1000 },
        "copy": { "mode": "auto", "batch_size": 1000, "parallel_collections": 4 },
        "apply": {
            "workers": 4, "batch_size": 500, "max_batch_delay_ms": 50, "max_queued_bytes": 67108864,
            "update_mode": "delta",
            "ddl": { "drop": true, "rename": true, "drop_database": false, "create": true,
                     "create_indexes": true, "drop_indexes": true,
                     "modify": true }
        },
        "http": { "addr": "127.0.0.1:9464", "token": null, "token_file": null, "allow_unauthenticated": false },
        "log": { "format": "text", "level": "info" },
        "on_history_lost": "resync"
    })
}

/// Dotted paths of every configuration key (`source.uri`, `apply.ddl.drop`, ...).
pub fn config_keys() -> BTreeSet<String> {
    let config: Config =
        serde_json::from_value(complete_config()).expect("the fixture matches the Config type");
    let mut keys = BTreeSet::new();
    collect_keys(&serde_json::to_value(config).unwrap(), "", &mut keys);
    keys
}

fn collect_keys(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(path.clone());
            collect_keys(child, &path, out);
        }
    }
}

/// The config key an environment variable sets (`REPLICATOR_SOURCE__URI` -> `source.uri`),
/// or `None` for a variable that is not a replicator setting.
pub fn env_key(var: &str) -> Option<String> {
    var.strip_prefix("REPLICATOR_").map(|rest| {
        rest.split("__")
            .collect::<Vec<_>>()
            .join(".")
            .to_lowercase()
    })
}

/// Checks that every `REPLICATOR_*` variable names a real key and that, laid over a complete
/// configuration, the values still deserialize (so `log.format = "jsn"` fails here).
pub fn check_settings(origin: &str, env: &BTreeMap<String, String>, file: Option<Value>) -> Config {
    let keys = config_keys();
    let mut merged = complete_config();
    if let Some(file) = file {
        let mut flat = BTreeSet::new();
        collect_keys(&file, "", &mut flat);
        for key in &flat {
            assert!(
                keys.contains(key),
                "{origin}: `{key}` is not a configuration key (known: {keys:?})"
            );
        }
        merge(&mut merged, file);
    }
    for (var, value) in env {
        let Some(key) = env_key(var) else { continue };
        assert!(
            keys.contains(&key),
            "{origin}: {var} sets `{key}`, which is not a configuration key"
        );
        let mut layer = typed(value);
        for part in key.rsplit('.') {
            layer = json!({ part: layer });
        }
        merge(&mut merged, layer);
    }
    serde_json::from_value(merged)
        .unwrap_or_else(|e| panic!("{origin}: settings do not form a valid config: {e}"))
}

/// Environment values are strings; figment reads numbers and booleans from them.
fn typed(value: &str) -> Value {
    value
        .parse::<i64>()
        .map(Value::from)
        .or_else(|_| value.parse::<bool>().map(Value::from))
        .unwrap_or_else(|_| value.into())
}

fn merge(base: &mut Value, layer: Value) {
    match (base, layer) {
        (Value::Object(b), Value::Object(l)) => {
            for (k, v) in l {
                merge(b.entry(k).or_insert(Value::Object(Map::new())), v);
            }
        }
        (b, l) => *b = l,
    }
}

/// What a fresh replicator exposes: metric name -> label name -> values seen. Histograms also
/// list their `_bucket`/`_sum`/`_count` series. `copy_documents_total` gets one collection, as
/// the copy registers them before its first batch.
pub fn metric_catalogue() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let metrics = Metrics::new();
    metrics.init_copy_collection("orders");
    let text = metrics.render();
    let mut catalogue: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            catalogue.entry(name.to_string()).or_default();
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    catalogue.entry(format!("{name}{suffix}")).or_default();
                }
            }
        } else if !line.starts_with('#') {
            let series = line.rsplit_once(' ').expect("series value").0;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let entry = catalogue.entry(name.to_string()).or_default();
            for pair in labels
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
            {
                let (label, value) = pair.split_once('=').expect("label=value");
                entry
                    .entry(label.to_string())
                    .or_default()
                    .insert(value.trim_matches('"').to_string());
            }
        }
    }
    catalogue
}

/// One metric reference in a PromQL expression, with its `label op "value"` matchers.
#[derive(Debug)]
pub struct MetricRef {
    pub name: String,
    pub matchers: Vec<(String, String, String)>,
}

/// The `mongo_replicator_*` metrics an expression reads, with their label matchers.
pub fn metric_refs(expr: &str) -> Vec<MetricRef> {
    let prefix = mongo_replicator::ops::metrics::names::PREFIX;
    let bytes = expr.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut refs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            // Skip string literals (label values, job names).
            i += 1 + expr[i + 1..].find('"').expect("closing quote") + 1;
            continue;
        }
        if !is_ident(bytes[i]) || (i > 0 && is_ident(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let word = &expr[start..i];
        if !word.starts_with(prefix) {
            continue;
        }
        let mut matchers = Vec::new();
        if bytes.get(i) == Some(&b'{') {
            let end = expr[i..].find('}').map(|e| i + e).expect("closing brace");
            for m in split_matchers(&expr[i + 1..end]) {
                matchers.push(m);
            }
            i = end + 1;
        }
        refs.push(MetricRef {
            name: word.to_string(),
            matchers,
        });
    }
    refs
}

/// `kind=~"a|b", side="source"` -> [("kind", "=~", "a|b"), ("side", "=", "source")].
fn split_matchers(inner: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let op_at = part
            .find(['=', '!'])
            .unwrap_or_else(|| panic!("matcher without operator: {part}"));
        let label = part[..op_at].trim().to_string();
        let rest = &part[op_at..];
        let op_len = if rest.starts_with("=~") || rest.starts_with("!=") || rest.starts_with("!~") {
            2
        } else {
            1
        };
        let value = rest[op_len..].trim().trim_matches('"').to_string();
        out.push((label, rest[..op_len].to_string(), value));
    }
    out
}

/// Fails when `expr` reads a metric the registry does not render, or matches a label value
/// (`=` or a `=~` alternation of plain words) that no pre-initialised series carries.
pub fn check_expr(origin: &str, expr: &str) -> usize {
    let catalogue = metric_catalogue();
    let refs = metric_refs(expr);
    for r in &refs {
        let labels = catalogue.get(&r.name).unwrap_or_else(|| {
            panic!(
                "{origin}: `{}` is not a metric the replicator exposes",
                r.name
            )
        });
        for (label, op, value) in &r.matchers {
            if label == "instance" || label == "job" || label == "le" || value.contains('$') {
                continue;
            }
            let known = labels
                .get(label)
                .unwrap_or_else(|| panic!("{origin}: `{}` has no label `{label}`", r.name));
            if op == "=" || op == "=~" {
                for alternative in value.split('|') {
                    let plain = alternative
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                    if plain && !(r.name.ends_with("copy_documents_total") && label == "collection")
                    {
                        assert!(
                            known.contains(alternative),
                            "{origin}: `{}{{{label}=\"{alternative}\"}}` never exists (known: {known:?})",
                            r.name
                        );
                    }
                }
            }
        }
    }
    refs.len()
}
