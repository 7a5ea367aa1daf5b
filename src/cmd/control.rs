//! `status | pause | resume` (and the shared request of `failed | retry | skip | runs`,
//! [`crate::cmd::failed_runs`]): talk to a running replicator through its HTTP API, reading
//! `http.addr` and `http.token` from the same configuration (`--config`, env) or
//! `--addr`/`--token`. Exit codes: 0 done, 1 the server said no, 2 bad usage or
//! configuration, 3 the replicator cannot be reached.

use crate::cmd::cli::ControlArgs;
use crate::cmd::{EXIT_CONFIG, EXIT_DIFFERENT, EXIT_FATAL};
use crate::config::Config;
use crate::ops::http_client::{call, Reply};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Which control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Status,
    Pause,
    Resume,
}

/// Runs one control command to its exit code.
pub async fn command(action: Action, args: ControlArgs) -> ExitCode {
    if action == Action::Status && args.collection.is_some() {
        eprintln!("mongo-replicator: status takes no --collection");
        return ExitCode::from(EXIT_CONFIG);
    }
    let body = args
        .collection
        .as_ref()
        .map(|c| json!({ "collection": c }).to_string());
    let (method, path) = match action {
        Action::Status => ("GET", "/api/v1/status"),
        Action::Pause => ("POST", "/api/v1/pause"),
        Action::Resume => ("POST", "/api/v1/resume"),
    };
    match request(&args, method, path, body.as_deref()).await {
        Ok((parsed, reply)) => {
            print_answer(&args, &parsed, || human(action, &parsed, &reply));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Sends one request to the replicator `args` names: its parsed JSON answer and the raw
/// reply, or the exit code after saying why on stderr (2 bad configuration, 3 unreachable,
/// 1 refused).
pub(crate) async fn request(
    args: &ControlArgs,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(Value, Reply), ExitCode> {
    let (addr, token) = match target(args).await {
        Ok(t) => t,
        Err(message) => {
            eprintln!("mongo-replicator: {message}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    let reply = match call(addr, method, path, token.as_deref(), body).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mongo-replicator: cannot reach the replicator at http://{addr}: {e}");
            return Err(ExitCode::from(EXIT_FATAL));
        }
    };
    let parsed: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.code) {
        let why = parsed["error"].as_str().unwrap_or(reply.body.trim());
        eprintln!(
            "mongo-replicator: the replicator refused ({}): {why}",
            reply.code
        );
        return Err(ExitCode::from(EXIT_DIFFERENT));
    }
    Ok((parsed, reply))
}

/// Prints the JSON answer with `--json`, else the table `human` makes.
pub(crate) fn print_answer(args: &ControlArgs, parsed: &Value, human: impl FnOnce() -> String) {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(parsed).unwrap_or_default()
        );
    } else {
        print!("{}", human());
    }
}

/// The address and token: flags first, then the configuration (file, env, defaults).
pub(super) async fn target(args: &ControlArgs) -> Result<(SocketAddr, Option<String>), String> {
    let cfg = Config::load(args.config.as_deref(), json!({})).map_err(|e| e.to_string())?;
    let token = match &args.token {
        Some(t) => Some(t.clone()),
        None => cfg
            .http
            .resolve_token()
            .map_err(|e| e.to_string())?
            .map(|s| s.expose().to_string()),
    };
    let mut addr = match &args.addr {
        None => cfg.http.addr,
        Some(a) => resolve(a).await?,
    };
    // A server bound to every interface is reached on this host's loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok((addr, token))
}

async fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let bare = addr.trim_start_matches("http://").trim_end_matches('/');
    tokio::net::lookup_host(bare)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--addr {addr}: expected host:port"))
}

/// The short table of each command.
fn human(action: Action, v: &Value, reply: &Reply) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    match action {
        Action::Status => {
            let yes = |b: &Value| {
                if b.as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            };
            rows.push(("phase".into(), text(&v["phase"])));
            rows.push(("ready".into(), yes(&v["ready"]).into()));
            rows.push(("lag".into(), format!("{} s", text(&v["lag_seconds"]))));
            rows.push(("paused".into(), paused_line(&v["paused"])));
            let applied = v["events_applied"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, n)| format!("{k}={n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            rows.push(("applied".into(), applied));
            rows.push(("last checkpoint".into(), text(&v["last_checkpoint_time"])));
            let err = &v["last_error"];
            rows.push((
                "last error".into(),
                if err.is_null() {
                    "none".into()
                } else {
                    format!("{}: {}", text(&err["kind"]), text(&err["message"]))
                },
            ));
        }
        Action::Pause | Action::Resume => {
            let word = if action == Action::Pause {
                "paused"
            } else {
                "resumed"
            };
            let changed = if v["changed"].as_bool() == Some(true) {
                ""
            } else {
                " (no change)"
            };
            rows.push((word.into(), format!("{}{changed}", text(&v["collection"]))));
            rows.push((
                "stored".into(),
                if v["stored"].as_bool() == Some(true) {
                    "yes (survives a restart)".into()
                } else {
                    "not yet (no checkpoint written yet)".into()
                },
            ));
            rows.push(("now paused".into(), paused_line(&v["paused"])));
        }
    }
    if rows.is_empty() {
        return format!("{}\n", reply.body);
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, val)| format!("{k:<width$}  {val}\n"))
        .collect()
}

/// `no`, `all (since ...)`, `orders (12 held), items (0 held)`.
fn paused_line(p: &Value) -> String {
    let mut parts = Vec::new();
    if p["all"].as_bool() == Some(true) {
        parts.push(format!("all (since {})", text(&p["all_since"])));
    }
    if let Some(colls) = p["collections"].as_object() {
        for (c, info) in colls {
            parts.push(format!("{c} ({} held)", text(&info["held_events"])));
        }
    }
    if let Some(b) = p["blocked"].as_str() {
        parts.push(format!("BLOCKED: {b}"));
    }
    if parts.is_empty() {
        "no".into()
    } else {
        parts.join(", ")
    }
}

/// The entries of the JSON array `list` about `collection` (`failed`, `held` with
/// `--collection`).
pub(crate) fn of_collection(list: &Value, collection: &str) -> Vec<Value> {
    let all = list.as_array().into_iter().flatten();
    all.filter(|e| e["collection"] == collection)
        .cloned()
        .collect()
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
