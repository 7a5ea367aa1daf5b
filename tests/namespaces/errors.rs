//! Bad `[[namespaces]]` rules: exit 2 and a stderr naming the rule's key, from `run`, `copy`
//! and `verify` alike; found before connecting when the rules alone show it, on the source
//! listing otherwise.

use super::{
    command, exclude, include, include_to, seed, start, tailing, wait_same, write_config, WAIT,
};
use crate::support::{config, db_names, documents, spawn_binary, wait_until, Deployment};
use mongo_replicator::config::{Config, ConnectionString, SideConfig};
use mongo_replicator::source::namespaces::NamespaceRule;
use std::io::Read;
use std::time::{Duration, Instant};

/// Nothing listens there: a command that tried to connect would fail (or retry), not exit 2
/// for the configuration.
const NOWHERE: &str = "mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=2000";

/// Runs `command --config path`; `(exit code, stderr)`, no code when it still ran after 60 s
/// (killed: a bad rule was not found before connecting).
fn exit_of(command: &str, path: &std::path::Path) -> (Option<i32>, String) {
    let mut child = spawn_binary(&[command, "--config", path.to_str().unwrap()], &[]);
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (code, err)
}

/// Another address where nothing listens: source and target on two deployments.
const ELSEWHERE: &str = "mongodb://127.0.0.2:1/?replicaSet=rs0&serverSelectionTimeoutMS=2000";

#[test]
fn each_bad_rule_exits_2_naming_its_key_before_connecting() {
    let two = config(NOWHERE, "a", "a_backup");
    let mut two = two;
    two.target.uri = ConnectionString::new(ELSEWHERE);
    let one = config(NOWHERE, "a", "a_backup");
    let mut with_collections = two.clone();
    with_collections.source.collections = Some(vec!["x".into()]);
    let target_and_exclude = NamespaceRule {
        target: Some("b.x".into()),
        ..exclude("a.x")
    };
    let cases: Vec<(&str, &Config, Vec<NamespaceRule>, &str)> = vec![
        (
            "no dot",
            &two,
            vec![include("nodot")],
            "namespaces[0].source",
        ),
        (
            "bad database glob",
            &two,
            vec![include("a.x"), include("a b.*")],
            "namespaces[1].source",
        ),
        (
            "empty collection",
            &two,
            vec![include("a.")],
            "namespaces[0].source",
        ),
        (
            "bad regex",
            &two,
            vec![include("/^a\\.(x$/")],
            "namespaces[0].source",
        ),
        (
            "unclosed regex",
            &two,
            vec![include("/^a\\..*")],
            "namespaces[0].source",
        ),
        (
            "target with exclude",
            &two,
            vec![target_and_exclude],
            "namespaces[0].target",
        ),
        (
            "unknown placeholder",
            &two,
            vec![include_to("a.x", "b.{database}")],
            "namespaces[0].target",
        ),
        (
            "many names to one place",
            &two,
            vec![include_to("a.*", "b.fixed")],
            "namespaces[0].target",
        ),
        (
            "two literal rules to one target",
            &two,
            vec![include_to("a.x", "b.y"), include_to("a.z", "b.y")],
            "namespaces[1]",
        ),
        (
            "source.collections beside the rules",
            &with_collections,
            vec![include("a.*")],
            "source.collections",
        ),
        // Source and target on one deployment: the backup must not feed itself.
        (
            "a target that is a replicated source",
            &one,
            vec![include_to("a.x", "a.y"), include("a.y")],
            "namespaces[",
        ),
        (
            "a database pattern on one deployment",
            &one,
            vec![include("a*.orders")],
            "namespaces[0].source",
        ),
        (
            "a regex naming no one database, on one deployment",
            &one,
            vec![include("/^(a|b)\\.x$/")],
            "namespaces[0].source",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, cfg, rules, key)) in cases.iter().enumerate() {
        let path = write_config(dir.path(), cfg, rules);
        let command = ["run", "copy", "verify"][i % 3];
        let (code, err) = exit_of(command, &path);
        assert_eq!(code, Some(2), "{what} ({command}): stderr: {err}");
        assert!(err.contains(key), "{what} ({command}): no {key} in: {err}");
    }
}

/// Two-way sync stays one database on each side: rules there are refused.
#[test]
fn namespaces_with_two_way_sync_exit_2() {
    let mut cfg = config(NOWHERE, "unused_src", "unused_dst");
    let side = || SideConfig {
        uri: ConnectionString::new(NOWHERE),
        database: "app".into(),
        collections: None,
    };
    cfg.local = Some(side());
    cfg.remote = Some(side());
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg, &[include("app.*")]);
    let (code, err) = exit_of("sync", &path);
    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(
        err.contains("namespaces") && !err.contains("unknown field"),
        "the key is not named: {err}"
    );
}

/// Two source databases `a` and `b` whose `o*` collections both go to `dst.{coll}`: they
/// collide once both have `orders` (`a` has it from the start).
struct Colliding {
    dep: Deployment,
    a: String,
    b: String,
    dst: String,
    cfg: Config,
    rules: [NamespaceRule; 2],
}

impl Colliding {
    async fn start(tag: &str) -> Colliding {
        let dep = Deployment::start().await;
        let (a, dst) = db_names(&format!("{tag}_a"));
        let (b, _) = db_names(&format!("{tag}_b"));
        seed(&dep, &a, "orders", 3).await;
        let cfg = config(&dep.uri, &a, &dst);
        let rules = [
            include_to(&format!("{a}.o*"), &format!("{dst}.{{coll}}")),
            include_to(&format!("{b}.o*"), &format!("{dst}.{{coll}}")),
        ];
        Colliding {
            dep,
            a,
            b,
            dst,
            cfg,
            rules,
        }
    }
}

/// Globs that only collide on what the source holds: `copy` and `verify` list the source and
/// exit 2 naming a rule and both names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collision_on_the_source_listing_exits_2_naming_the_rule() {
    let Colliding {
        dep,
        a,
        b,
        dst,
        cfg,
        rules,
    } = Colliding::start("ns_collide").await;
    seed(&dep, &b, "orders", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg, &rules);
    for cmd in ["copy", "verify"] {
        let (code, out, err) = command(cmd, &path).await;
        assert_eq!(code, 2, "{cmd}: stdout: {out}\nstderr: {err}");
        assert!(
            err.contains("namespaces[0]") || err.contains("namespaces[1]"),
            "{cmd}: no rule named: {err}"
        );
        assert!(
            err.contains(&format!("{a}.orders")) && err.contains(&format!("{b}.orders")),
            "{cmd}: the colliding names are not named: {err}"
        );
    }
    assert!(
        dep.db(&dst)
            .list_collection_names()
            .await
            .unwrap()
            .is_empty(),
        "copy wrote before finding the collision"
    );
}

/// The same collision met while tailing: `b.orders` appears after the start listing. The run
/// must stop (exit 2, naming the rule) before `b`'s documents land on `a`'s image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collision_appearing_while_tailing_stops_the_run_naming_the_rule() {
    let Colliding {
        dep,
        a,
        b,
        dst,
        cfg,
        rules,
    } = Colliding::start("ns_collide_later").await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(dir.path(), &cfg, &rules);
    tailing(&p).await;
    wait_same(&dep, (&a, "orders"), (&dst, "orders")).await;
    dep.db(&b)
        .collection::<bson::Document>("orders")
        .insert_many((0..100).map(|i| bson::doc! {"_id": i, "b": true}))
        .await
        .unwrap();
    let mut code = None;
    wait_until("the run to stop on the collision", WAIT, || {
        code = p.child.try_wait().unwrap().map(|s| s.code());
        std::future::ready(code.is_some())
    })
    .await;
    assert_eq!(code, Some(Some(2)), "log: {}", p.log_text());
    assert!(p.log_text().contains("namespaces[1]"), "{}", p.log_text());
    assert_eq!(
        documents(&dep.db(&dst), "orders").await,
        documents(&dep.db(&a), "orders").await,
        "b.orders was written into a.orders's image"
    );
}
