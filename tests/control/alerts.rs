//! What the pause and parking alerts read, through the binary: `max_pause_seconds` is
//! `alerts.max_pause`, and `pause_started_timestamp_seconds{collection}` holds the start of the
//! pause in effect (0 otherwise), from the first scrape.

use super::{post_authed, started};
use crate::support::Deployment;
use mongo_replicator::ops::metrics::names;

fn series(name: &str, collection: &str) -> String {
    format!("{name}{{collection=\"{collection}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_exports_its_start_and_the_configured_max_pause() {
    let dep = Deployment::start().await;
    let mut cfg = super::token_config(&dep, "alerts_pause", &["orders"]);
    cfg.alerts.max_pause = "2h".into();
    let dir = tempfile::tempdir().unwrap();
    let p = started(dir.path(), &cfg).await;
    assert_eq!(p.metric(names::MAX_PAUSE_SECONDS).await, 7200.0);
    let started_at = |c: &'static str| {
        let p = &p;
        async move {
            p.metric(&series(names::PAUSE_STARTED_TIMESTAMP_SECONDS, c))
                .await
        }
    };
    let body = p.get("/metrics").await.unwrap().1;
    for c in ["all", "orders"] {
        assert!(
            body.contains(&format!(
                "{} 0",
                series(names::PAUSE_STARTED_TIMESTAMP_SECONDS, c)
            )),
            "{c} from the first scrape at 0"
        );
    }
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let reply = post_authed(p.http, "/api/v1/pause", Some(r#"{"collection": "orders"}"#)).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let at = started_at("orders").await;
    assert!(
        (before - 1.0..before + 60.0).contains(&at),
        "{at} vs {before}"
    );
    assert_eq!(started_at("all").await, 0.0, "only orders is paused");
    let reply = post_authed(p.http, "/api/v1/resume", None).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(started_at("orders").await, 0.0, "resumed");
}
