//! `failed | retry | skip | runs`: the parked documents and the run history of a running
//! replicator, through `GET /api/v1/failed`, `POST /api/v1/failed/{retry,skip}` and
//! `GET /api/v1/runs` (the request, its exit codes and `--json` are [`crate::cmd::control`]'s).

use crate::cmd::cli::{ControlArgs, DocumentArgs, RunsArgs};
use crate::cmd::control::{of_collection, print_answer, request, text};
use crate::cmd::EXIT_CONFIG;
use serde_json::{json, Value};
use std::process::ExitCode;

/// `failed [--collection C]`: the parked documents (of one collection).
pub async fn failed(args: ControlArgs) -> ExitCode {
    match request(&args, "GET", "/api/v1/failed", None).await {
        Ok((mut parsed, _)) => {
            if let Some(c) = &args.collection {
                let mine = of_collection(&parsed["documents"], c);
                parsed = json!({ "count": mine.len(), "documents": mine });
            }
            print_answer(&args, &parsed, || failed_table(&parsed));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `retry` or `skip` with `--collection C --id ID` or `--all`.
pub async fn act(action: &'static str, args: DocumentArgs) -> ExitCode {
    let body = match selector(&args) {
        Ok(b) => b,
        Err(message) => {
            eprintln!("mongo-replicator: {action}: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let path = format!("/api/v1/failed/{action}");
    match request(&args.control, "POST", &path, Some(&body.to_string())).await {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || {
                format!(
                    "{action}: {} document(s) selected, {} parked now\n",
                    text(&parsed["documents"]),
                    text(&parsed["parked"])
                )
            });
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `runs [--limit N]`: the run history, newest first.
pub async fn runs(args: RunsArgs) -> ExitCode {
    if args.control.collection.is_some() {
        eprintln!("mongo-replicator: runs takes no --collection");
        return ExitCode::from(EXIT_CONFIG);
    }
    if !(1..=crate::history::runs::MAX_LOADED).contains(&args.limit) {
        eprintln!(
            "mongo-replicator: runs --limit must be between 1 and {}",
            crate::history::runs::MAX_LOADED
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let path = format!("/api/v1/runs?limit={}", args.limit);
    match request(&args.control, "GET", &path, None).await {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || runs_table(&parsed));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The request body: `{"all": true}` or `{"collection", "id"}`, the id as Extended JSON when
/// it parses as JSON, else the plain string.
pub fn selector(args: &DocumentArgs) -> Result<Value, String> {
    match (args.all, &args.control.collection, &args.id) {
        (true, None, None) => Ok(json!({ "all": true })),
        (true, _, _) => Err("--all takes no --collection or --id".into()),
        (false, Some(c), Some(id)) => {
            let id =
                serde_json::from_str::<Value>(id).unwrap_or_else(|_| Value::String(id.clone()));
            bson::Bson::try_from(id.clone())
                .map_err(|e| format!("--id is not Extended JSON: {e}"))?;
            Ok(json!({ "collection": c, "id": id }))
        }
        (false, None, Some(_)) => Err("--id needs --collection".into()),
        (false, _, None) => Err("say which documents: --collection C --id ID, or --all".into()),
    }
}

/// Columns padded to their widest cell, two spaces apart.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn failed_table(v: &Value) -> String {
    let docs = v["documents"].as_array().cloned().unwrap_or_default();
    if docs.is_empty() {
        return "no parked documents\n".into();
    }
    let rows = docs
        .iter()
        .map(|d| {
            vec![
                text(&d["collection"]),
                d["id"].to_string(),
                text(&d["code"]),
                text(&d["attempts"]),
                text(&d["events_waiting"]),
                text(&d["first_seen"]),
                text(&d["reason"]),
            ]
        })
        .collect();
    table(
        &[
            "COLLECTION",
            "ID",
            "CODE",
            "ATTEMPTS",
            "WAITING",
            "FIRST SEEN",
            "REASON",
        ],
        rows,
    )
}

fn runs_table(v: &Value) -> String {
    let runs = v["runs"].as_array().cloned().unwrap_or_default();
    let rows = runs
        .iter()
        .map(|r| {
            let exit = match (&r["exit"]["reason"], &r["exit"]["kind"]) {
                (Value::Null, _) => "running".to_string(),
                (reason, Value::Null) => text(reason),
                (reason, kind) => format!("{}: {}", text(reason), text(kind)),
            };
            let phases: Vec<String> = r["phases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| text(&p["phase"]))
                .collect();
            vec![
                text(&r["id"]),
                text(&r["started_at"]),
                text(&r["ended_at"]),
                exit,
                phases.join(">"),
                text(&r["copied_documents"]),
                text(&r["ddl_applied"]),
                text(&r["errors_total"]),
            ]
        })
        .collect();
    table(
        &[
            "RUN", "STARTED", "ENDED", "EXIT", "PHASES", "COPIED", "DDL", "ERRORS",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_args(collection: Option<&str>, id: Option<&str>, all: bool) -> DocumentArgs {
        DocumentArgs {
            control: ControlArgs {
                collection: collection.map(String::from),
                ..Default::default()
            },
            id: id.map(String::from),
            all,
        }
    }

    #[test]
    fn ids_are_extended_json_or_plain_strings_and_bad_usage_is_refused() {
        assert_eq!(
            selector(&doc_args(None, None, true)),
            Ok(json!({"all": true}))
        );
        assert_eq!(
            selector(&doc_args(Some("u"), Some("7"), false)),
            Ok(json!({"collection": "u", "id": 7}))
        );
        assert_eq!(
            selector(&doc_args(Some("u"), Some("abc-1"), false)),
            Ok(json!({"collection": "u", "id": "abc-1"}))
        );
        let oid = r#"{"$oid": "65a1b2c3d4e5f60718293a4b"}"#;
        assert_eq!(
            selector(&doc_args(Some("u"), Some(oid), false)).unwrap()["id"]["$oid"],
            "65a1b2c3d4e5f60718293a4b"
        );
        assert!(selector(&doc_args(Some("u"), Some(r#"{"$oid": "nope"}"#), false)).is_err());
        assert!(selector(&doc_args(None, None, false)).is_err());
        assert!(selector(&doc_args(Some("u"), None, false)).is_err());
        assert!(selector(&doc_args(None, Some("7"), false)).is_err());
        assert!(selector(&doc_args(Some("u"), None, true)).is_err());
    }

    #[test]
    fn the_runs_table_names_each_run_and_its_exit() {
        let v = json!({"runs": [
            {"id": "b", "started_at": "t2", "ended_at": null, "exit": null, "phases": [{"phase": "tailing"}], "copied_documents": 0, "ddl_applied": 0, "errors_total": 0},
            {"id": "a", "started_at": "t1", "ended_at": null, "exit": {"reason": "unknown", "kind": null}, "phases": [{"phase": "copying"}, {"phase": "tailing"}], "copied_documents": 5, "ddl_applied": 1, "errors_total": 2},
        ]});
        let out = runs_table(&v);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("RUN"), "{out}");
        assert!(
            lines[1].contains("running") && lines[1].starts_with("b "),
            "{out}"
        );
        assert!(
            lines[2].contains("unknown") && lines[2].contains("copying>tailing"),
            "{out}"
        );
    }
}
