//! `sync`: two-way sync between `[local]` and `[remote]` (see [`crate::sync`]).

use crate::config::Config;
use crate::error::Result;
use std::process::ExitCode;

/// The `sync` command.
pub async fn command(cfg: &Config) -> Result<ExitCode> {
    crate::sync::job::command(cfg).await
}

use crate::cmd::cli::{AutoResolveArgs, ConflictsArgs, ResolveArgs};
use crate::cmd::control::{print_answer, request, text};
use crate::cmd::EXIT_CONFIG;
use serde_json::{json, Value};

/// `conflicts [--all] [--collection C]`.
pub async fn conflicts(args: ConflictsArgs) -> ExitCode {
    let mut path = String::from("/api/v1/conflicts");
    let mut query = Vec::new();
    if !args.all {
        query.push("resolved=false".to_string());
    }
    if let Some(c) = &args.control.collection {
        query.push(format!("collection={}", urlencoding(c)));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    match request(&args.control, "GET", &path, None).await {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || conflicts_table(&parsed));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `resolve ID --strategy S [--value JSON]`.
pub async fn resolve(args: ResolveArgs) -> ExitCode {
    let value = match args.value.as_deref().map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(v)) => Some(v),
        // A plain word is a string value (a new username).
        Some(Err(_)) => args.value.clone().map(Value::String),
    };
    let body = json!({ "strategy": args.strategy, "value": value });
    let path = format!("/api/v1/conflicts/{}/resolve", args.id);
    match request(&args.control, "POST", &path, Some(&body.to_string())).await {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || {
                format!("resolved {} with {}\n", args.id, args.strategy)
            });
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `auto-resolve [--max N]`.
pub async fn auto_resolve(args: AutoResolveArgs) -> ExitCode {
    if args.max == Some(0) {
        eprintln!("mongo-replicator: auto-resolve --max must be at least 1");
        return ExitCode::from(EXIT_CONFIG);
    }
    let body = json!({ "max": args.max });
    match request(
        &args.control,
        "POST",
        "/api/v1/conflicts/auto-resolve",
        Some(&body.to_string()),
    )
    .await
    {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || {
                format!(
                    "auto-resolve: {} resolved, {} skipped (need a person)\n",
                    text(&parsed["resolved"]),
                    text(&parsed["skipped"])
                )
            });
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Percent-encodes a query value (collection names are plain, but may hold anything).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One line per conflict: id, collection, kind, field, both `_id`s (values only with --json).
fn conflicts_table(v: &Value) -> String {
    let list = v["conflicts"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "no conflicts\n".into();
    }
    let mut out = String::from("ID                        COLLECTION  KIND          FIELD     LOCAL_ID  REMOTE_ID  RESOLVED\n");
    for c in list {
        out.push_str(&format!(
            "{:<25} {:<11} {:<13} {:<9} {:<9} {:<10} {}\n",
            text(&c["id"]),
            text(&c["collection"]),
            text(&c["kind"]),
            text(&c["field"]),
            c["local_id"],
            c["remote_id"],
            text(&c["resolution"]),
        ));
    }
    out
}
