//! `held | release --collection C | discard --collection C`: what `apply.hold` holds on a
//! running replicator, and an operator's decision, through `GET /api/v1/held` and `POST
//! /api/v1/held/{release,discard}` (the request, its exit codes and `--json` are
//! [`crate::cmd::control`]'s).

use crate::cmd::cli::ControlArgs;
use crate::cmd::control::{of_collection, print_answer, request, text};
use crate::cmd::EXIT_CONFIG;
use serde_json::{json, Value};
use std::process::ExitCode;

/// `held [--collection C]`: the held collections (or one).
pub async fn held(args: ControlArgs) -> ExitCode {
    match request(&args, "GET", "/api/v1/held", None).await {
        Ok((mut parsed, _)) => {
            if let Some(c) = &args.collection {
                parsed = json!({ "held": of_collection(&parsed["held"], c) });
            }
            print_answer(&args, &parsed, || table(&parsed));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `release` or `discard` (`action`, the route's last part) of `--collection C`.
pub async fn decide(action: &'static str, args: ControlArgs) -> ExitCode {
    let Some(coll) = &args.collection else {
        eprintln!("mongo-replicator: {action} needs --collection C (`held` lists them)");
        return ExitCode::from(EXIT_CONFIG);
    };
    let body = json!({ "collection": coll }).to_string();
    let path = format!("/api/v1/held/{action}");
    match request(&args, "POST", &path, Some(&body)).await {
        Ok((parsed, _)) => {
            print_answer(&args, &parsed, || {
                let when = if parsed["done"].as_bool() == Some(true) {
                    "done"
                } else {
                    "queued (the replicator carries it out at its next turn)"
                };
                format!("{}: {coll} {when}\n", text(&parsed["action"]))
            });
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn table(v: &Value) -> String {
    let rows = v["held"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return "nothing held\n".into();
    }
    let mut out = format!(
        "{:<24}  {:<8}  {:>8}  since\n",
        "collection", "kind", "events"
    );
    for h in rows {
        out.push_str(&format!(
            "{:<24}  {:<8}  {:>8}  {}\n",
            text(&h["collection"]),
            text(&h["kind"]),
            text(&h["count"]),
            text(&h["since"])
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_each_held_collection_or_says_nothing_is_held() {
        assert_eq!(table(&json!({"held": []})), "nothing held\n");
        let t = table(&json!({"held": [
            {"collection": "orders", "kind": "deletes", "count": 42, "since": "2026-01-01T00:00:00Z"}
        ]}));
        let row = t.lines().nth(1).unwrap();
        assert!(
            row.starts_with("orders") && row.contains("deletes") && row.contains("42"),
            "{t}"
        );
    }
}
