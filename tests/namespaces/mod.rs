//! `[[namespaces]]` end to end, through the binary: which collections are replicated (include
//! glob, exclude, regex), where they go (a renamed target, two databases at once), renames
//! across the filter, and the configuration errors that name their rule.

mod errors;
mod mapping;
mod renames;
mod select;
mod widen;

use crate::support::procs::ReplicatorProcess;
use crate::support::{documents, run_binary, wait_until, Deployment};
use mongo_replicator::config::Config;
use mongo_replicator::source::namespaces::NamespaceRule;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous: the machine is shared with builds.
pub const WAIT: Duration = Duration::from_secs(60);

/// A rule selecting `source`, sent to the default target.
pub fn include(source: &str) -> NamespaceRule {
    NamespaceRule {
        source: source.into(),
        target: None,
        exclude: false,
    }
}

/// A rule selecting `source`, sent to `target` (a template).
pub fn include_to(source: &str, target: &str) -> NamespaceRule {
    NamespaceRule {
        target: Some(target.into()),
        ..include(source)
    }
}

/// A rule keeping `source` off the target.
pub fn exclude(source: &str) -> NamespaceRule {
    NamespaceRule {
        exclude: true,
        ..include(source)
    }
}

/// `cfg` with `rules` as its `[[namespaces]]`.
pub fn with_rules(cfg: &Config, rules: &[NamespaceRule]) -> Config {
    let mut cfg = cfg.clone();
    cfg.namespaces = rules.to_vec();
    cfg
}

/// Writes `cfg` with `rules` into `dir`: the file every command of a test reads.
pub fn write_config(dir: &Path, cfg: &Config, rules: &[NamespaceRule]) -> PathBuf {
    crate::support::write_config(dir, &with_rules(cfg, rules))
}

/// `run` with `rules`, its HTTP server on a free port.
pub fn start(dir: &Path, cfg: &Config, rules: &[NamespaceRule]) -> ReplicatorProcess {
    ReplicatorProcess::run(dir, &with_rules(cfg, rules))
}

/// Waits until the run reports `tailing` (the initial copy is done).
pub async fn tailing(p: &ReplicatorProcess) {
    wait_until("phase tailing", WAIT, || async {
        p.get("/status")
            .await
            .is_some_and(|(code, body)| code == 200 && body.contains("\"phase\":\"tailing\""))
    })
    .await;
}

/// `command --config path` run to its end: `(exit code, stdout, stderr)`.
pub async fn command(command: &str, path: &Path) -> (i32, String, String) {
    let (command, path) = (command.to_string(), path.to_str().unwrap().to_string());
    tokio::task::spawn_blocking(move || run_binary(&[&command, "--config", &path], &[]))
        .await
        .unwrap()
}

/// `verify` with the test's configuration exits 0 (saying why not otherwise).
pub async fn verify_exits_0(path: &Path) {
    let (code, out, err) = command("verify", path).await;
    assert_eq!(code, 0, "verify: stdout: {out}\nstderr: {err}");
}

/// The source and target deployments of a test: one for both, or two (`(&source, &target)`).
#[derive(Clone, Copy)]
pub struct Sides<'a> {
    pub source: &'a Deployment,
    pub target: &'a Deployment,
}

impl<'a> From<&'a Deployment> for Sides<'a> {
    fn from(dep: &'a Deployment) -> Self {
        Sides {
            source: dep,
            target: dep,
        }
    }
}

impl<'a> From<(&'a Deployment, &'a Deployment)> for Sides<'a> {
    fn from((source, target): (&'a Deployment, &'a Deployment)) -> Self {
        Sides { source, target }
    }
}

/// Waits until `to` (database, collection) on the target holds exactly the documents of
/// `from` on the source.
pub async fn wait_same<'a>(sides: impl Into<Sides<'a>>, from: (&str, &str), to: (&str, &str)) {
    let sides = sides.into();
    let what = format!("{}.{} copied to {}.{}", from.0, from.1, to.0, to.1);
    wait_until(&what, WAIT, || async {
        let source = documents(&sides.source.db(from.0), from.1).await;
        !source.is_empty() && documents(&sides.target.db(to.0), to.1).await == source
    })
    .await;
}

/// The collections of `db`, sorted, without the server's `system.*`.
pub async fn names(dep: &Deployment, db: &str) -> Vec<String> {
    let mut names: Vec<String> = dep
        .db(db)
        .list_collection_names()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| !n.starts_with("system."))
        .collect();
    names.sort();
    names
}

/// Inserts a marker into the replicated `from` and waits for it at `to`: everything the source
/// did before it has been read from the one change stream.
pub async fn fence<'a>(sides: impl Into<Sides<'a>>, from: (&str, &str), to: (&str, &str)) {
    let sides = sides.into();
    let id = bson::oid::ObjectId::new();
    sides
        .source
        .db(from.0)
        .collection::<bson::Document>(from.1)
        .insert_one(bson::doc! {"_id": id, "fence": true})
        .await
        .unwrap();
    wait_until("the fence document arrives", WAIT, || async {
        sides
            .target
            .db(to.0)
            .collection::<bson::Document>(to.1)
            .find_one(bson::doc! {"_id": id})
            .await
            .unwrap()
            .is_some()
    })
    .await;
}

/// Inserts `n` documents `{_id: 0..n, n: i}` into `db.coll`.
pub async fn seed(dep: &Deployment, db: &str, coll: &str, n: i32) {
    dep.db(db)
        .collection::<bson::Document>(coll)
        .insert_many((0..n).map(|i| bson::doc! {"_id": i, "n": i}))
        .await
        .unwrap();
}
