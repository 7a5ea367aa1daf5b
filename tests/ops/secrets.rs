//! Credentials in both connection strings never appear in any log line (text or JSON, debug
//! level), in `/status`, in `/metrics`, or in error messages, including authentication failures.

use crate::support::http::{get, try_get};
use crate::support::procs::free_port;
use crate::support::{
    config, db_names, skip_on_real_server, spawn_binary, terminate, wait_until, write_config,
    Deployment, Needs,
};
use bson::doc;
use mongo_testbed::TestbedOptions;
use std::time::Duration;

const PASSWORD: &str = "Sup3r-s3cret-pw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_appears_in_no_log_status_or_metric() {
    skip_on_real_server!(Needs::ScramUsers);
    let dep = Deployment::start_with(TestbedOptions {
        users: vec![("repl".into(), PASSWORD.into())],
        ..Default::default()
    })
    .await;
    let port = dep.testbed.as_ref().unwrap().addr().port();
    let uri =
        format!("mongodb://repl:{PASSWORD}@127.0.0.1:{port}/?replicaSet=rs0&authSource=admin");
    let admin = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let (src, dst) = db_names("secrets");
    admin
        .database(&src)
        .collection("c")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();

    for format in ["text", "json"] {
        let mut cfg = config(&uri, &src, &dst);
        let http_port = free_port();
        cfg.http.addr = format!("127.0.0.1:{http_port}").parse().unwrap();
        cfg.log.level = "debug".into();
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), &cfg);
        let mut child = spawn_binary(
            &[
                "run",
                "--config",
                path.to_str().unwrap(),
                "--log-format",
                format,
            ],
            &[("RUST_LOG", "debug")],
        );
        let addr: std::net::SocketAddr = cfg.http.addr;
        wait_until("replicator tailing", Duration::from_secs(30), || async {
            try_get(addr, "/status")
                .await
                .is_ok_and(|r| r.code == 200 && r.body.contains("\"tailing\""))
        })
        .await;
        admin
            .database(&src)
            .collection("c")
            .insert_one(doc! {"_id": format})
            .await
            .unwrap();
        let (_, status) = get(addr, "/status").await;
        let (_, metrics) = get(addr, "/metrics").await;
        let code = tokio::task::spawn_blocking(move || {
            let code = terminate(&mut child, Duration::from_secs(10));
            let out = child.wait_with_output().unwrap();
            (
                code,
                String::from_utf8_lossy(&out.stderr).into_owned()
                    + &String::from_utf8_lossy(&out.stdout),
            )
        })
        .await
        .unwrap();
        let (exit, logs) = code;
        assert_eq!(exit, Some(0));
        assert!(
            logs.lines().count() > 3,
            "too few log lines to prove anything ({format}): {logs}"
        );
        for (what, text) in [
            ("logs", &logs),
            ("/status", &status),
            ("/metrics", &metrics),
        ] {
            assert!(
                !text.contains(PASSWORD),
                "the password leaked into {what} ({format})"
            );
        }
    }
}

#[test]
fn authentication_failure_message_has_no_password() {
    skip_on_real_server!(Needs::ScramUsers);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dep = rt.block_on(Deployment::start_with(TestbedOptions {
        users: vec![("repl".into(), "right-password".into())],
        ..Default::default()
    }));
    let port = dep.testbed.as_ref().unwrap().addr().port();
    let uri =
        format!("mongodb://repl:{PASSWORD}@127.0.0.1:{port}/?replicaSet=rs0&authSource=admin");
    let mut cfg = config(&uri, "a", "b");
    cfg.http.addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let child = spawn_binary(
        &["run", "--config", path.to_str().unwrap()],
        &[("RUST_LOG", "debug")],
    );
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "wrong credentials are a configuration error: {text}"
    );
    assert!(
        text.to_lowercase().contains("auth"),
        "the reason is not named: {text}"
    );
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    drop(dep);
}
