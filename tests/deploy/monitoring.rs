//! Prometheus config, alert rules and the Grafana dashboard only reference metrics (and label
//! values) the replicator really exposes, and their files fit together.

use super::*;
use mongo_replicator::ops::metrics::names;
use serde_yaml::Value;
use std::collections::BTreeSet;

fn alert_rules() -> Vec<Value> {
    let doc = yaml("deploy/prometheus/alerts.yml");
    let groups = doc["groups"].as_sequence().expect("groups list");
    assert!(!groups.is_empty());
    groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules list").clone())
        .collect()
}

#[test]
fn the_reference_checker_catches_unknown_metrics_and_label_values() {
    assert_eq!(
        check_expr(
            "ok",
            "rate(mongo_replicator_errors_total{kind=\"target\"}[5m])"
        ),
        1
    );
    let bad_name = std::panic::catch_unwind(|| check_expr("t", "mongo_replicator_lag_secs > 1"));
    assert!(bad_name.is_err(), "an unknown metric must fail");
    let bad_value = std::panic::catch_unwind(|| {
        check_expr(
            "t",
            "mongo_replicator_errors_total{kind=~\"target|histroy_lost\"}",
        )
    });
    assert!(bad_value.is_err(), "an unknown label value must fail");
    let refs = metric_refs("histogram_quantile(0.9, rate(mongo_replicator_apply_batch_seconds_bucket{job=\"mongo_replicator_x\"}[1m]))");
    assert_eq!(refs.len(), 1, "strings are not metric names: {refs:?}");
    assert_eq!(refs[0].name, "mongo_replicator_apply_batch_seconds_bucket");
}

#[test]
fn alert_rules_are_complete_and_reference_real_metrics() {
    let rules = alert_rules();
    let names: BTreeSet<&str> = rules.iter().map(|r| str_of(&r["alert"], "alert")).collect();
    for required in [
        "ReplicatorDown",
        "ReplicatorLagHigh",
        "ReplicatorCheckpointStale",
        "ReplicatorErrorsRising",
        "ReplicatorStalled",
        "ReplicatorParkedDocuments",
        "ReplicatorPausedTooLong",
        "ReplicatorChangesHeld",
    ] {
        assert!(
            names.contains(required),
            "missing alert {required}; have {names:?}"
        );
    }
    assert_eq!(names.len(), rules.len(), "alert names are unique");
    for rule in &rules {
        let name = str_of(&rule["alert"], "alert");
        let expr = str_of(&rule["expr"], "expr");
        let duration = str_of(&rule["for"], "for");
        assert!(
            duration.ends_with('m') || duration.ends_with('s'),
            "{name}: for = {duration}"
        );
        let severity = str_of(&rule["labels"]["severity"], "severity");
        assert!(
            ["warning", "critical"].contains(&severity),
            "{name}: severity {severity}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                !str_of(&rule["annotations"][annotation], annotation).is_empty(),
                "{name}: {annotation}"
            );
        }
        let reads_ours = check_expr(&format!("alert {name}"), expr);
        assert!(
            reads_ours > 0 || expr.contains("up{job=\"mongo-replicator\"}"),
            "{name} watches nothing of ours: {expr}"
        );
    }
    // The pause threshold is alerts.max_pause as the replicator exports it, not a copy.
    let paused = rules
        .iter()
        .find(|r| r["alert"] == "ReplicatorPausedTooLong")
        .unwrap();
    let expr = str_of(&paused["expr"], "expr");
    for metric in [
        names::PAUSE_STARTED_TIMESTAMP_SECONDS,
        names::MAX_PAUSE_SECONDS,
    ] {
        assert!(
            expr.contains(metric),
            "ReplicatorPausedTooLong reads {metric}: {expr}"
        );
    }
    let down = rules
        .iter()
        .find(|r| r["alert"] == "ReplicatorDown")
        .unwrap();
    let expr = str_of(&down["expr"], "expr");
    assert!(
        expr.contains("== 0") && expr.contains("absent("),
        "ReplicatorDown covers down and absent: {expr}"
    );
}

#[test]
fn prometheus_scrapes_the_replicator_and_loads_the_rules() {
    let config = yaml("deploy/prometheus/prometheus.yml");
    for file in config["rule_files"].as_sequence().expect("rule_files") {
        let path = format!("deploy/prometheus/{}", str_of(file, "rule file"));
        assert!(repo_path(&path).is_file(), "rule file {path} exists");
    }
    let jobs = config["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    let job = jobs
        .iter()
        .find(|j| j["job_name"] == "mongo-replicator")
        .expect("job mongo-replicator (alerts match on it)");
    let targets: Vec<&str> = job["static_configs"][0]["targets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| str_of(t, "target"))
        .collect();
    let compose = yaml("docker-compose.yml");
    for target in targets {
        let (host, port) = target.split_once(':').expect("host:port");
        assert!(
            compose["services"][host].is_mapping(),
            "scrape target {target} is a compose service"
        );
        assert_eq!(port, "9464");
    }
}

#[test]
fn grafana_provisioning_points_at_the_dashboard_and_the_datasource() {
    let datasources = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    let ds_uid = str_of(&ds["uid"], "datasource uid");
    let url = str_of(&ds["url"], "datasource url");
    let compose = yaml("docker-compose.yml");
    let host = url.trim_start_matches("http://").split(':').next().unwrap();
    assert!(
        compose["services"][host].is_mapping(),
        "datasource url {url} names a compose service"
    );

    let providers = yaml("deploy/grafana/provisioning/dashboards/mongo-replicator.yml");
    let path = str_of(
        &providers["providers"][0]["options"]["path"],
        "provider path",
    );
    let mounts: Vec<&str> = compose["services"]["grafana"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| str_of(v, "volume"))
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./deploy/grafana/dashboards:")
                && m.contains(&format!(":{path}"))),
        "the dashboards folder is mounted at the provider path {path}: {mounts:?}"
    );

    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/dashboards/mongo-replicator.json"))
            .expect("dashboard JSON");
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] != "row" {
            assert_eq!(
                panel["datasource"]["uid"], ds_uid,
                "panel {}",
                panel["title"]
            );
        }
    }
}

#[test]
fn dashboard_panels_read_real_metrics_and_cover_what_operators_watch() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/dashboards/mongo-replicator.json"))
            .expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "mongo-replicator");
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<u64> = panels
        .iter()
        .map(|p| p["id"].as_u64().expect("panel id"))
        .collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut read_metrics = BTreeSet::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap();
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {title} has targets"));
        assert!(!targets.is_empty(), "panel {title} queries something");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: expr"));
            assert!(
                check_expr(&format!("panel {title}"), expr) > 0,
                "panel {title} reads a replicator metric"
            );
            read_metrics.extend(metric_refs(expr).into_iter().map(|r| r.name));
        }
        for key in ["h", "w", "x", "y"] {
            assert!(
                panel["gridPos"][key].is_u64(),
                "panel {title}: gridPos.{key}"
            );
        }
    }
    for name in [
        names::EVENTS_APPLIED_TOTAL,
        names::LAG_SECONDS,
        names::ERRORS_TOTAL,
        names::RETRIES_TOTAL,
        names::COPY_DOCUMENTS_TOTAL,
        names::CHECKPOINT_AGE_SECONDS,
        names::UP,
        names::STALLED,
        names::LEADER,
    ] {
        assert!(read_metrics.contains(name), "the dashboard shows {name}");
    }
}

/// The continuous verifier's rules: a divergence found, and no full sweep within
/// `verify.continuous.max_sweep_age` as the replicator exports it (not a copy of the value).
#[test]
fn verify_alert_rules_read_the_verifier_metrics() {
    use mongo_replicator::verify::metrics as vm;
    let rules = alert_rules();
    let rule = |name: &str| {
        let r = rules.iter().find(|r| r["alert"] == name);
        str_of(
            &r.unwrap_or_else(|| panic!("missing alert {name}"))["expr"],
            "expr",
        )
        .to_string()
    };
    assert!(rule("ReplicatorDivergenceFound").contains(vm::VERIFY_DIVERGENCES_TOTAL));
    let overdue = rule("ReplicatorVerifySweepOverdue");
    for metric in [
        vm::VERIFY_LAST_FULL_SWEEP_TIMESTAMP_SECONDS,
        vm::VERIFY_MAX_SWEEP_AGE_SECONDS,
    ] {
        assert!(
            overdue.contains(metric),
            "ReplicatorVerifySweepOverdue reads {metric}: {overdue}"
        );
    }
}
