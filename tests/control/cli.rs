//! `mongo-replicator status | pause | resume` against the running binary: the table, `--json`,
//! the exit codes (0 done, 1 refused, 2 bad usage, 3 unreachable), and every route of
//! `/api/v1/openapi.json` answered by the server.

use super::{get_authed, json, post_authed, started, token_config, TOKEN};
use crate::support::procs::free_port;
use crate::support::{run_binary, Deployment};

pub(super) async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &[])
    })
    .await
    .unwrap()
}

/// `pause --addr ADDR --token TOKEN --collection COLL`.
async fn pause(addr: &str, coll: &str) -> (i32, String, String) {
    cli(args(&[
        "pause",
        "--addr",
        addr,
        "--token",
        TOKEN,
        "--collection",
        coll,
    ]))
    .await
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pause_resume_through_the_cli_with_its_exit_codes() {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "ctl_cli", &["orders"]);
    let dir = tempfile::tempdir().unwrap();
    let p = started(dir.path(), &cfg).await;
    let addr = p.http.to_string();
    // The config file ReplicatorProcess wrote carries addr and token.
    let config_path = dir
        .path()
        .join("replicator.toml")
        .to_str()
        .unwrap()
        .to_string();

    let (code, out, err) = cli(args(&["status", "--config", &config_path])).await;
    assert_eq!(code, 0, "{out}{err}");
    for row in ["phase", "ready", "lag", "paused", "last error"] {
        assert!(out.contains(row), "no {row} row in:\n{out}");
    }
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN));

    let (code, out, err) = pause(&addr, "orders").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("paused") && out.contains("orders"), "{out}");
    let (code, out, _) = cli(args(&[
        "status", "--addr", &addr, "--token", TOKEN, "--json",
    ]))
    .await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert!(v["paused"]["collections"]["orders"].is_object(), "{v}");

    // The server says no: unknown collection (1), wrong token (1).
    let (code, _, err) = pause(&addr, "nope").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nope"), "{err}");
    let (code, _, err) = cli(args(&["resume", "--addr", &addr, "--token", "wrong"])).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("401"), "{err}");
    // Bad usage (2) and nothing listening (3).
    let (code, _, _) = cli(args(&["pause", "--colection", "orders"])).await;
    assert_eq!(code, 2);
    let (code, _, _) = cli(args(&["status", "--config", "/nonexistent.toml"])).await;
    assert_eq!(code, 2);
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, _, err) = cli(args(&["status", "--addr", &dead])).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    let (code, out, err) = cli(args(&["resume", "--config", &config_path])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resumed") && out.contains("all"), "{out}");
    assert_eq!(
        json(&get_authed(p.http, "/api/v1/status").await)["paused"]["collections"],
        serde_json::json!({})
    );
}

/// Every operation `/api/v1/openapi.json` describes is served by the router (no 404/405), and
/// the router serves no `/api/v1` route the document leaves out (a neighbour path is 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_served_routes() {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "ctl_openapi", &[]);
    let dir = tempfile::tempdir().unwrap();
    let p = started(dir.path(), &cfg).await;
    let doc = json(&get_authed(p.http, "/api/v1/openapi.json").await);
    let ops = mongo_replicator::control::openapi::operations(&doc);
    assert!(ops.len() >= 5, "{ops:?}");
    for (method, template) in &ops {
        // A templated path (`/api/v1/jobs/{id}`) is served for any value: unknown is 404.
        let path = &template.replace("{id}", "none");
        let reply = match method.as_str() {
            // An endless stream: only its head is read.
            "GET" if path == "/api/v1/events" => {
                let sse = crate::notify::SseClient::connect(p.http, TOKEN, None).await;
                crate::support::http::Reply {
                    code: sse.code,
                    body: String::new(),
                    headers: Vec::new(),
                }
            }
            "GET" => get_authed(p.http, path).await,
            "POST" => post_authed(p.http, path, None).await,
            other => panic!("undocumented method {other}"),
        };
        // 400: served, but the route needs a body (failed/retry, failed/skip).
        // 503: served, but for a job this process does not run (the sync routes under `run`).
        let served = matches!(reply.code, 200 | 400)
            || (template != path && reply.code == 404 && json(&reply)["error"].is_string())
            || (reply.code == 503 && json(&reply)["error"].is_string());
        assert!(served, "{method} {path}: {} {}", reply.code, reply.body);
        let wrong = if method == "GET" {
            post_authed(p.http, path, None).await
        } else {
            get_authed(p.http, path).await
        };
        assert_eq!(wrong.code, 405, "{path} answers only {method}");
    }
    for missing in ["/api/v1/statuses", "/api/v1/jobs/1"] {
        assert_eq!(get_authed(p.http, missing).await.code, 404, "{missing}");
    }
}
