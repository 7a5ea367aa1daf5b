//! `mongo-replicator resync --collection C [--id ID ...] [--json] [--wait]`: asks a running
//! replicator to repair a collection or some `_id`s (`POST /api/v1/resync`), and with `--wait`
//! follows the job (`GET /api/v1/jobs/{id}`) until it ends. Exit codes as the other control
//! commands: 0 done (or queued, without `--wait`), 1 the server refused or the job failed, 2 bad
//! usage, 3 the replicator cannot be reached.

use crate::cmd::cli::ResyncArgs;
use crate::cmd::control::{target, text};
use crate::cmd::{EXIT_CONFIG, EXIT_DIFFERENT, EXIT_FATAL};
use crate::ops::http_client::call;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// How often `--wait` asks for the job.
const POLL: Duration = Duration::from_millis(500);

/// Why a request got no usable answer: the exit code and what to print.
struct Failure(u8, String);

pub async fn command(args: ResyncArgs) -> ExitCode {
    match resync(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("mongo-replicator: {message}");
            ExitCode::from(code)
        }
    }
}

async fn resync(args: &ResyncArgs) -> Result<(), Failure> {
    let Some(collection) = &args.control.collection else {
        return Err(Failure(
            EXIT_CONFIG,
            "resync needs --collection (and optionally --id ...)".into(),
        ));
    };
    let (addr, token) = target(&args.control)
        .await
        .map_err(|m| Failure(EXIT_CONFIG, m))?;
    let token = token.as_deref();
    let body = request_body(collection, &args.ids);
    let answer = ask(
        addr,
        "POST",
        "/api/v1/resync",
        token,
        Some(&body.to_string()),
    )
    .await?;
    let job = answer["job"].as_str().unwrap_or_default().to_string();
    if !args.wait {
        print(args, &answer, &[("job", job), ("state", "queued".into())]);
        return Ok(());
    }
    let path = format!("/api/v1/jobs/{job}");
    loop {
        let shown = ask(addr, "GET", &path, token, None).await?;
        match shown["state"].as_str() {
            Some("done") => {
                print(args, &shown, &rows(&shown));
                return Ok(());
            }
            Some("failed") => {
                print(args, &shown, &rows(&shown));
                return Err(Failure(
                    EXIT_DIFFERENT,
                    format!("resync job {job} failed: {}", text(&shown["error"])),
                ));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// `{"collection": C}` or `{"collection": C, "ids": [...]}`; each `--id` is JSON (Extended
/// JSON) when it parses as JSON, else a plain string.
fn request_body(collection: &str, ids: &[String]) -> Value {
    if ids.is_empty() {
        return json!({ "collection": collection });
    }
    let ids: Vec<Value> = ids
        .iter()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
        .collect();
    json!({ "collection": collection, "ids": ids })
}

/// One request; a 2xx answer's JSON, else the exit code: 1 refused, 3 unreachable.
async fn ask(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Value, Failure> {
    let reply = call(addr, method, path, token, body).await.map_err(|e| {
        Failure(
            EXIT_FATAL,
            format!("cannot reach the replicator at http://{addr}: {e}"),
        )
    })?;
    let parsed: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.code) {
        let why = parsed["error"].as_str().unwrap_or(reply.body.trim());
        return Err(Failure(
            EXIT_DIFFERENT,
            format!("the replicator refused ({}): {why}", reply.code),
        ));
    }
    Ok(parsed)
}

fn rows(job: &Value) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("job", text(&job["id"])),
        ("collection", text(&job["collection"])),
        ("state", text(&job["state"])),
    ];
    for n in ["examined", "rewritten", "deleted", "parked"] {
        rows.push((n, text(&job["counts"][n])));
    }
    if !job["error"].is_null() {
        rows.push(("error", text(&job["error"])));
    }
    rows
}

fn print(args: &ResyncArgs, answer: &Value, rows: &[(&str, String)]) {
    if args.control.json {
        println!(
            "{}",
            serde_json::to_string_pretty(answer).unwrap_or_default()
        );
        return;
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_extended_json_when_they_parse_and_plain_strings_otherwise() {
        assert_eq!(request_body("o", &[]), json!({"collection": "o"}));
        let ids = [
            "7",
            r#"{"$numberLong": "7"}"#,
            "user-1",
            r#""42""#,
            r#"{"$oid": "65a1b2c3d4e5f60718293a4b"}"#,
        ]
        .map(String::from);
        assert_eq!(
            request_body("o", &ids),
            json!({"collection": "o", "ids": [
                7, {"$numberLong": "7"}, "user-1", "42", {"$oid": "65a1b2c3d4e5f60718293a4b"}
            ]})
        );
    }
}
