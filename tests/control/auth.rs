//! `http.token`: `/status` and `/api/v1/*` need the bearer token, probes and metrics stay open,
//! a non-loopback bind without a token refuses to start, and the token never reaches a log.

use super::{get_authed, http_up, json, post_authed, started, token_config, TOKEN};
use crate::support::http::{metric_value, post, try_get};
use crate::support::procs::free_port;
use crate::support::{run_binary, spawn_binary, write_config, Deployment};
use mongo_replicator::ops::metrics::names;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guards_status_and_api_while_probes_and_metrics_stay_open() {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "auth", &[]);
    let src = cfg.source.database.clone();
    let dir = tempfile::tempdir().unwrap();
    let p = started(dir.path(), &cfg).await;
    for path in [
        "/status",
        "/api/v1/status",
        "/api/v1/config",
        "/api/v1/openapi.json",
    ] {
        let none = try_get(p.http, path).await.unwrap();
        assert_eq!(none.code, 401, "{path} without a token: {}", none.body);
        assert!(json(&none)["error"]
            .as_str()
            .unwrap()
            .contains("unauthorized"));
        let wrong = crate::support::http::get_with_token(p.http, path, "tok-wrong")
            .await
            .unwrap();
        assert_eq!(wrong.code, 401, "{path} with a wrong token");
        let right = get_authed(p.http, path).await;
        assert_eq!(right.code, 200, "{path} with the token: {}", right.body);
        json(&right);
    }
    let refused = post(p.http, "/api/v1/pause", None, None).await.unwrap();
    assert_eq!(refused.code, 401, "a mutating call without the token");
    let short = post(
        p.http,
        "/api/v1/pause",
        Some(&TOKEN[..TOKEN.len() - 1]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(short.code, 401, "a prefix of the token");
    for path in ["/healthz", "/metrics"] {
        assert_eq!(p.get(path).await.unwrap().0, 200, "{path} stays open");
    }
    let readyz = p.get("/readyz").await.unwrap().0;
    assert!(
        readyz == 200 || readyz == 503,
        "/readyz answers without a token: {readyz}"
    );
    let metrics = p.get("/metrics").await.unwrap().1;
    let unauthorized = format!(
        "{}{{result=\"unauthorized\",route=\"/api/v1/pause\"}}",
        names::CONTROL_REQUESTS_TOTAL
    );
    assert_eq!(metric_value(&metrics, &unauthorized), 2.0, "{metrics}");
    // The effective configuration, with the token masked.
    let config = json(&get_authed(p.http, "/api/v1/config").await);
    assert_eq!(config["http"]["token"], "***");
    assert_eq!(config["source"]["database"], src.as_str());
    let resumed = post_authed(p.http, "/api/v1/resume", None).await;
    assert_eq!(resumed.code, 200, "{}", resumed.body);
    let log = p.log_text();
    assert!(
        log.contains("control request"),
        "mutating calls are logged: {log}"
    );
    assert!(log.contains("remote"), "with the caller's address: {log}");
    assert!(!log.contains(TOKEN), "the token leaked into the log");
}

/// A replicator bound to every interface needs a token: exit 2 naming `http.token` without
/// one; `allow_unauthenticated` starts it open; the env token and `token_file` both work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_needs_a_token_unless_allowed() {
    let dep = Deployment::start().await;
    let mut cfg = token_config(&dep, "bind", &[]);
    cfg.http.token = None;
    let port = free_port();
    cfg.http.addr = format!("0.0.0.0:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let path = path.to_str().unwrap().to_string();

    let p = path.clone();
    let (code, _, err) =
        tokio::task::spawn_blocking(move || run_binary(&["run", "--config", &p], &[]))
            .await
            .unwrap();
    assert_eq!(code, 2, "stderr: {err}");
    assert!(err.contains("http.token"), "names the key: {err}");

    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // The token from the environment.
    let env = [("REPLICATOR_HTTP__TOKEN", TOKEN)];
    serve_and_stop(&path, &env, addr, async {
        assert_eq!(try_get(addr, "/status").await.unwrap().code, 401);
        assert_eq!(get_authed(addr, "/status").await.code, 200);
    })
    .await;

    // The token from a file (a mounted secret), surrounding newline ignored.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut with_file = cfg.clone();
    with_file.http.token_file = Some(token_file);
    let file_path = write_config(dir.path(), &with_file);
    serve_and_stop(file_path.to_str().unwrap(), &[], addr, async {
        assert_eq!(try_get(addr, "/api/v1/status").await.unwrap().code, 401);
        assert_eq!(get_authed(addr, "/api/v1/status").await.code, 200);
    })
    .await;

    // Open on purpose.
    let mut open = cfg.clone();
    open.http.allow_unauthenticated = true;
    let open_path = write_config(dir.path(), &open);
    serve_and_stop(open_path.to_str().unwrap(), &[], addr, async {
        assert_eq!(try_get(addr, "/status").await.unwrap().code, 200);
    })
    .await;
}

/// Runs `run --config path` with `env` until its HTTP server on `addr` answers, awaits
/// `checks`, then stops it with SIGTERM.
async fn serve_and_stop(
    path: &str,
    env: &[(&str, &str)],
    addr: std::net::SocketAddr,
    checks: impl std::future::Future<Output = ()>,
) {
    let mut child = spawn_binary(&["run", "--config", path], env);
    http_up(addr).await;
    checks.await;
    crate::support::terminate(&mut child, Duration::from_secs(20)).expect("stops");
}
