//! docker-compose.yml and the Dockerfile: the services a newcomer needs, wired together, with
//! replicator settings that are real configuration keys.

use super::*;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

fn env_map(service: &Value) -> BTreeMap<String, String> {
    let env = &service["environment"];
    if let Some(list) = env.as_sequence() {
        list.iter()
            .map(|kv| {
                str_of(kv, "env entry")
                    .split_once('=')
                    .map(|(k, v)| (k.into(), v.into()))
                    .expect("K=V")
            })
            .collect()
    } else {
        let map = env.as_mapping().expect("environment map or list");
        map.iter()
            .map(|(k, v)| {
                (
                    str_of(k, "env name").to_string(),
                    str_of(v, "env value").to_string(),
                )
            })
            .collect()
    }
}

#[test]
fn env_key_maps_double_underscores_to_sections() {
    assert_eq!(
        env_key("REPLICATOR_SOURCE__URI").as_deref(),
        Some("source.uri")
    );
    assert_eq!(
        env_key("REPLICATOR_APPLY__DDL__DROP_DATABASE").as_deref(),
        Some("apply.ddl.drop_database")
    );
    assert_eq!(env_key("RUST_LOG"), None);
    assert!(config_keys().contains("apply.ddl.drop_database"));
    let mut bad = BTreeMap::new();
    bad.insert("REPLICATOR_SOURCE__URL".to_string(), "x".to_string());
    assert!(
        std::panic::catch_unwind(|| check_settings("t", &bad, None)).is_err(),
        "unknown keys fail"
    );
    let mut bad_value = BTreeMap::new();
    bad_value.insert("REPLICATOR_LOG__FORMAT".to_string(), "jsn".to_string());
    assert!(
        std::panic::catch_unwind(|| check_settings("t", &bad_value, None)).is_err(),
        "invalid values fail"
    );
}

#[test]
fn compose_runs_a_replica_set_the_replicator_and_monitoring() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    for name in ["mongo", "replicator", "prometheus", "grafana"] {
        assert!(services[name].is_mapping(), "service {name}");
    }

    let mongo = &services["mongo"];
    assert!(
        str_of(&mongo["image"], "mongo image").starts_with("mongo:8"),
        "official mongo 8 image"
    );
    let command: Vec<&str> = mongo["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| str_of(c, "arg"))
        .collect();
    assert!(
        command.windows(2).any(|w| w == ["--replSet", "rs0"]),
        "{command:?}"
    );
    assert!(command.contains(&"--bind_ip_all"));
    let check: Vec<&str> = mongo["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| str_of(c, "test"))
        .collect();
    assert_eq!(&check[..4], ["CMD", "mongosh", "--quiet", "--eval"]);
    let script = check[4];
    assert!(
        script.contains("rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'mongo:27017'}]})"),
        "{script}"
    );
    assert!(
        script.contains("isWritablePrimary") && script.contains("quit(1)"),
        "healthy only when primary: {script}"
    );

    let replicator = &services["replicator"];
    assert_eq!(replicator["build"], ".");
    assert_eq!(
        replicator["depends_on"]["mongo"]["condition"],
        "service_healthy"
    );
    assert!(replicator["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p == "9464:9464"));
    let env = env_map(replicator);
    let config = check_settings("docker-compose.yml replicator", &env, None);
    assert_eq!(config.source.database, "ordersDB");
    assert_eq!(config.target.database, "ordersDB_backup");
    assert_eq!(
        config.source.uri.expose(),
        "mongodb://mongo:27017/?replicaSet=rs0"
    );
    assert_eq!(
        config.http.addr.to_string(),
        "0.0.0.0:9464",
        "reachable from Prometheus"
    );
    // Bound to every interface, so the control API needs a token: a compose secret, mounted
    // where http.token_file points.
    config
        .validate()
        .expect("the compose settings pass validation");
    let token_file = config.http.token_file.as_ref().expect("http.token_file");
    let secret = token_file
        .strip_prefix("/run/secrets")
        .expect("a compose secret")
        .to_str()
        .unwrap();
    let mounted: Vec<&str> = replicator["secrets"]
        .as_sequence()
        .expect("service secrets")
        .iter()
        .map(|s| str_of(s, "secret"))
        .collect();
    assert_eq!(mounted, [secret]);
    assert!(
        compose["secrets"][secret]["file"].is_string(),
        "top-level secret {secret}"
    );

    let prometheus_mounts = services["prometheus"]["volumes"].as_sequence().unwrap();
    assert!(prometheus_mounts
        .iter()
        .any(|m| str_of(m, "volume").starts_with("./deploy/prometheus:/etc/prometheus")));
    for mount in services["grafana"]["volumes"].as_sequence().unwrap() {
        let host = str_of(mount, "volume").split(':').next().unwrap();
        assert!(
            repo_path(host.trim_start_matches("./")).is_dir(),
            "grafana mount {host} exists"
        );
    }
}

/// Two replicators on the one pair, both under `ha` with distinct names and host ports, both
/// scraped by Prometheus.
#[test]
fn compose_runs_two_replicators_under_ha() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let mut names = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for service in ["replicator", "replicator-2"] {
        let env = env_map(&services[service]);
        let config = check_settings(&format!("docker-compose.yml {service}"), &env, None);
        assert!(config.ha.enabled, "{service}: ha.enabled");
        config.validate().expect("valid under ha");
        names.insert(config.ha.name.clone());
        assert_eq!(
            (
                config.source.database.as_str(),
                config.target.database.as_str()
            ),
            ("ordersDB", "ordersDB_backup"),
            "{service}: the same pair"
        );
        for p in services[service]["ports"].as_sequence().unwrap() {
            ports.insert(str_of(p, "port").split(':').next().unwrap().to_string());
        }
    }
    assert_eq!(names.len(), 2, "distinct ha.name: {names:?}");
    assert_eq!(ports.len(), 2, "distinct host ports: {ports:?}");
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let targets: BTreeSet<&str> = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| str_of(t, "target"))
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["replicator:9464", "replicator-2:9464"])
    );
}

#[test]
fn dockerfile_builds_a_non_root_image_with_a_healthcheck() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .copied()
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:1-bookworm"), "{}", froms[0]);
    assert!(
        froms[1].starts_with("FROM debian:bookworm-slim"),
        "{}",
        froms[1]
    );
    assert!(
        dockerfile.contains("ca-certificates") && dockerfile.contains(" curl"),
        "TLS roots and curl for the healthcheck"
    );
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "non-root: {user}"
    );
    assert!(instructions.contains(&"EXPOSE 9464"));
    assert!(
        dockerfile.contains("HEALTHCHECK") && dockerfile.contains("http://127.0.0.1:9464/healthz")
    );
    assert!(instructions.contains(&"ENTRYPOINT [\"mongo-replicator\"]"));
    assert!(instructions.contains(&"CMD [\"run\"]"));
    assert!(
        repo_path("deploy/docker/stub-targets.sh").is_file(),
        "the dependency-layer helper is in the context"
    );
    // The production image does not link the embedded testbed (the `demo` feature).
    let builds: Vec<&str> = instructions
        .iter()
        .filter(|l| l.contains("cargo build"))
        .copied()
        .collect();
    assert_eq!(
        builds.len(),
        2,
        "dependency layer and real build: {builds:?}"
    );
    for b in builds {
        assert!(b.contains("--no-default-features"), "{b}");
    }

    // ENV lines (with continuations) are real configuration keys and values.
    let mut env = BTreeMap::new();
    let joined = dockerfile.replace("\\\n", " ");
    for line in joined.lines().filter_map(|l| l.strip_prefix("ENV ")) {
        for pair in line.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV K=V");
            env.insert(k.to_string(), v.to_string());
        }
    }
    assert_eq!(
        env.get("REPLICATOR_HTTP__ADDR").map(String::as_str),
        Some("0.0.0.0:9464")
    );
    let mut with_uris = env.clone();
    with_uris.insert(
        "REPLICATOR_SOURCE__URI".into(),
        "mongodb://db/?replicaSet=rs0".into(),
    );
    check_settings("Dockerfile", &with_uris, None);

    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        "the build context leaves target/ out"
    );
    assert!(
        !ignore
            .lines()
            .any(|l| ["src/", "testbed/", "Cargo.lock"].contains(&l.trim())),
        "sources stay in the context"
    );
}
