//! History lost (286): with `resync` the backup converges (without being emptied first);
//! with `fail` the process stops with a clear reason and a non-zero exit.

use crate::support::http::series;
use crate::support::workload::Workload;
use crate::support::{
    assert_identical_between, config, db_names, run_binary, seed, skip_on_real_server,
    write_config, Deployment, Needs, Replicator,
};
use mongo_replicator::config::OnHistoryLost;
use mongo_replicator::ops::metrics::names;
use mongo_testbed::TestbedOptions;
use std::time::Duration;

async fn lose_history(dep: &Deployment, cfg: &mongo_replicator::config::Config) {
    let source = dep.db(&cfg.source.database);
    let mut w = Workload::new(seed());
    w.run(&source, 200).await;
    let r = Replicator::start(cfg).await;
    r.caught_up(Duration::from_secs(60)).await;
    r.shutdown().await.unwrap();
    // Far more writes than the oplog holds: the stored token falls out of it.
    w.run(&source, 1500).await;
}

/// A source with a tiny oplog (300 entries), the target on a deployment of its own (so the
/// copy's writes do not push the new start point out of that oplog too), and a configuration
/// from one to the other with `on_history_lost = "resync"`.
pub(super) async fn resync_deployments(
    tag: &str,
) -> (Deployment, Deployment, mongo_replicator::config::Config) {
    let dep = Deployment::start_with(TestbedOptions {
        oplog_max_entries: 300,
        ..Default::default()
    })
    .await;
    let target = Deployment::start().await;
    let (src, dst) = db_names(tag);
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.target.uri = mongo_replicator::config::ConnectionString::new(&target.uri);
    cfg.on_history_lost = OnHistoryLost::Resync;
    (dep, target, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lost_with_resync_converges() {
    skip_on_real_server!(Needs::TinyOplog);
    let (dep, target, cfg) = resync_deployments("resync").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    lose_history(&dep, &cfg).await;
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(60)).await;
    assert_identical_between(&cfg, &dep.db(&src), &target.db(&dst)).await;
    assert_eq!(
        r.metric(&series(names::ERRORS_TOTAL, "kind", "history_lost"))
            .await,
        1.0,
        "history was not lost (once), the test proves nothing"
    );
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lost_with_fail_exits_non_zero_with_reason() {
    skip_on_real_server!(Needs::TinyOplog);
    let dep = Deployment::start_with(TestbedOptions {
        oplog_max_entries: 300,
        ..Default::default()
    })
    .await;
    let (src, dst) = db_names("fail");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.on_history_lost = OnHistoryLost::Fail;
    lose_history(&dep, &cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        run_binary(&["run", "--config", path.to_str().unwrap()], &[])
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "stderr: {err}");
    assert!(err.contains("history lost"), "no clear reason: {err}");
}
