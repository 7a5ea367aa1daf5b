//! Kubernetes manifests (mongod + replicator sidecar) and the systemd unit fit together: probes on
//! the real endpoints, config keys that exist, names that resolve.

use super::*;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// Every manifest listed by the kustomization, by kind.
fn manifests() -> BTreeMap<String, Value> {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let mut by_kind = BTreeMap::new();
    for file in kustomization["resources"].as_sequence().expect("resources") {
        for doc in yaml_docs(&format!("deploy/k8s/{}", str_of(file, "resource"))) {
            let kind = str_of(&doc["kind"], "kind").to_string();
            assert!(
                doc["apiVersion"].is_string() && doc["metadata"]["name"].is_string(),
                "{kind}: apiVersion and name"
            );
            assert!(by_kind.insert(kind.clone(), doc).is_none(), "one {kind}");
        }
    }
    by_kind
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("container {name}"))
}

#[test]
fn statefulset_runs_mongod_with_the_replicator_sidecar_probed_and_scraped() {
    let all = manifests();
    for kind in ["ConfigMap", "Secret", "Service", "StatefulSet"] {
        assert!(all.contains_key(kind), "{kind} manifest");
    }
    let sts = &all["StatefulSet"];
    let template = &sts["spec"]["template"];
    assert_eq!(
        template["metadata"]["labels"], sts["spec"]["selector"]["matchLabels"],
        "selector matches the pod"
    );
    assert_eq!(
        all["Service"]["spec"]["selector"], sts["spec"]["selector"]["matchLabels"],
        "service selects the pod"
    );
    assert_eq!(
        sts["spec"]["serviceName"],
        all["Service"]["metadata"]["name"]
    );

    let annotations = &template["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9464");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    let pod = &template["spec"];
    let mongod = container(pod, "mongod");
    assert!(str_of(&mongod["image"], "mongod image").starts_with("mongo:"));
    let args: Vec<&str> = mongod["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "arg"))
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--replSet", "rs0"]),
        "{args:?}"
    );

    let replicator = container(pod, "replicator");
    let port = replicator["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["containerPort"] == 9464)
        .expect("port 9464");
    let port_name = str_of(&port["name"], "port name");
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &replicator[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["port"], port_name, "{probe} targets the metrics port");
    }
    for section in ["requests", "limits"] {
        assert!(
            replicator["resources"][section]["memory"].is_string(),
            "resources.{section}.memory"
        );
    }
    assert_eq!(replicator["securityContext"]["runAsNonRoot"], true);

    // Secrets by env, config by file: names resolve and the settings are real keys.
    let secret = &all["Secret"];
    let refs: Vec<&str> = replicator["envFrom"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| str_of(&e["secretRef"]["name"], "secretRef"))
        .collect();
    assert_eq!(refs, [str_of(&secret["metadata"]["name"], "secret name")]);
    let env: BTreeMap<String, String> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .iter()
        .map(|(k, v)| (str_of(k, "key").to_string(), str_of(v, "value").to_string()))
        .collect();
    assert!(
        env.contains_key("REPLICATOR_SOURCE__URI") && env.contains_key("REPLICATOR_TARGET__URI")
    );
    assert!(
        env.contains_key("REPLICATOR_HTTP__TOKEN"),
        "the control API token comes from the Secret"
    );

    let config_map = &all["ConfigMap"];
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["configMap"].is_mapping())
        .expect("configMap volume");
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    let mount = replicator["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("config mounted");
    let args: Vec<&str> = replicator["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "arg"))
        .collect();
    assert_eq!(args[0], "run");
    let config_path = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1])
        .expect("--config");
    let (dir, file) = config_path.rsplit_once('/').unwrap();
    assert_eq!(
        dir,
        str_of(&mount["mountPath"], "mountPath"),
        "--config points into the mounted ConfigMap"
    );
    let toml_text = str_of(&config_map["data"][file], "config file in the ConfigMap");
    let file_settings: serde_json::Value =
        toml::from_str(toml_text).expect("ConfigMap TOML parses");
    let config = check_settings("k8s ConfigMap + Secret", &env, Some(file_settings));
    assert_eq!(config.http.addr.port(), 9464);
    assert!(
        config.http.addr.ip().is_unspecified(),
        "probes reach the pod IP"
    );
    config
        .validate()
        .expect("a pod-wide bind with the Secret's token passes validation");
}

/// Three members, each with a sidecar under `ha`; the init Job initiates the set with exactly
/// the StatefulSet's pod names, and the Secret's URIs list every member.
#[test]
fn three_members_with_an_ha_sidecar_each_and_an_init_job_naming_them() {
    let all = manifests();
    let sts = &all["StatefulSet"];
    let replicas = sts["spec"]["replicas"].as_u64().expect("replicas");
    assert_eq!(replicas, 3);
    assert_eq!(
        sts["spec"]["podManagementPolicy"], "Parallel",
        "rs.initiate needs every member up"
    );
    let (name, service) = (
        str_of(&sts["metadata"]["name"], "name"),
        str_of(&sts["spec"]["serviceName"], "serviceName"),
    );
    let hosts: Vec<String> = (0..replicas)
        .map(|i| format!("{name}-{i}.{service}:27017"))
        .collect();
    let job = &all["Job"];
    let pod = &job["spec"]["template"]["spec"];
    assert_ne!(pod["restartPolicy"], "Always", "a Job's pod");
    let init = &pod["containers"][0];
    assert!(str_of(&init["image"], "image").starts_with("mongo:"));
    let script: String = init["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "command"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        script.contains("rs.initiate") && script.contains("_id: 'rs0'"),
        "{script}"
    );
    for host in &hosts {
        assert!(
            script.contains(host.as_str()),
            "the Job names {host}: {script}"
        );
    }
    let uri = str_of(
        &all["Secret"]["stringData"]["REPLICATOR_SOURCE__URI"],
        "source uri",
    );
    for host in &hosts {
        assert!(uri.contains(host.as_str()), "{uri} lists {host}");
    }
    let toml_text = str_of(&all["ConfigMap"]["data"]["replicator.toml"], "config file");
    let file: serde_json::Value = toml::from_str(toml_text).unwrap();
    assert_eq!(file["ha"]["enabled"], true, "every sidecar runs under ha");
    assert_eq!(file["ha"]["prefer_local_primary"], true);
    let local = file["ha"]["local_uri"].as_str().expect("ha.local_uri");
    assert!(
        local.contains("localhost:27017") && local.contains("directConnection=true"),
        "the pod's own mongod, asked directly: {local}"
    );
    assert!(
        file["ha"].get("name").is_none(),
        "ha.name stays the pod's host name (distinct per member)"
    );
}

#[test]
fn systemd_unit_is_hardened_and_restarts() {
    let unit = read("deploy/systemd/mongo-replicator.service");
    let directives: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("directive without '=': {l}"))
        })
        .collect();
    let value = |key: &str| directives.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    for section in ["[Unit]", "[Service]", "[Install]"] {
        assert!(unit.contains(section), "{section}");
    }
    assert!(
        value("ExecStart")
            .unwrap()
            .contains("mongo-replicator run --config"),
        "ExecStart"
    );
    assert_eq!(value("Restart"), Some("always"));
    assert_eq!(value("DynamicUser"), Some("yes"));
    assert_eq!(value("ProtectSystem"), Some("strict"));
    assert_eq!(value("NoNewPrivileges"), Some("yes"));
    assert!(
        value("EnvironmentFile").is_some(),
        "secrets by EnvironmentFile"
    );
    assert!(
        unit.contains("REPLICATOR_HTTP__TOKEN="),
        "the control API token goes into the EnvironmentFile"
    );
    assert_eq!(
        value("RestartPreventExitStatus"),
        Some("2"),
        "bad config (exit 2) is not restarted in a loop"
    );
    assert_eq!(value("WantedBy"), Some("multi-user.target"));
}
