//! Operator control end to end through the binary: the bearer token in front of `/status` and
//! `/api/v1`, pause and resume (everything, one collection) under traffic, and the control CLI.

mod alerts;
mod auth;
mod cli;
mod cli_failed;
mod failed;
mod pause;
pub(crate) mod resync;
mod resync_ids;
mod resync_limits;
mod runs;

use crate::support::http::{get_with_token, post, try_get, Reply};
use crate::support::procs::ReplicatorProcess;
use crate::support::{config, db_names, wait_until, Deployment};
use mongo_replicator::config::{Config, Secret};
use std::net::SocketAddr;
use std::time::Duration;

/// The token the tests configure (never expected in any log).
pub const TOKEN: &str = "tok-3f9a1c7e-control-test";

/// `GET path` with [`TOKEN`].
pub async fn get_authed(addr: SocketAddr, path: &str) -> Reply {
    get_with_token(addr, path, TOKEN)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// `POST path` with [`TOKEN`] and `body`.
pub async fn post_authed(addr: SocketAddr, path: &str, body: Option<&str>) -> Reply {
    post(addr, path, Some(TOKEN), body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

pub fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", reply.code, reply.body))
}

/// A deployment and the config of a replicator needing [`TOKEN`], replicating `collections`
/// (all when empty).
pub fn token_config(dep: &Deployment, tag: &str, collections: &[&str]) -> Config {
    let (src, dst) = db_names(tag);
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.http.token = Some(Secret::new(TOKEN));
    if !collections.is_empty() {
        cfg.source.collections = Some(collections.iter().map(|c| c.to_string()).collect());
    }
    cfg
}

/// The source's `users` collection of `cfg`, with one seed document (so the copy has one).
pub async fn seeded_users(dep: &Deployment, cfg: &Config) -> mongodb::Collection<bson::Document> {
    let users = dep.db(&cfg.source.database).collection("users");
    users
        .insert_one(bson::doc! {"_id": 0, "email": "seed"})
        .await
        .unwrap();
    users
}

/// Gives the backup `target` a unique index on `users.email` the source lacks, then inserts
/// documents 1..=3 with the same `email` on the source: two of them (whichever writers lose the
/// race) are refused for good.
pub async fn refuse_two_users(
    target: &mongodb::Database,
    users: &mongodb::Collection<bson::Document>,
    email: &str,
) {
    target
        .run_command(bson::doc! {"createIndexes": "users", "indexes": [
        {"key": {"email": 1}, "name": "email_unique", "unique": true}]})
        .await
        .unwrap();
    // Documents go to writers by `_id`, which keep no order between documents: 1 is on the
    // backup before 2 and 3 are written, so it is they that conflict.
    users
        .insert_one(bson::doc! {"_id": 1, "email": email})
        .await
        .unwrap();
    let on_backup = target.collection::<bson::Document>("users");
    wait_until("1 on the backup", Duration::from_secs(60), || async {
        on_backup
            .count_documents(bson::doc! {"_id": 1})
            .await
            .unwrap()
            == 1
    })
    .await;
    for id in 2..=3 {
        users
            .insert_one(bson::doc! {"_id": id, "email": email})
            .await
            .unwrap();
    }
}

/// Waits until something answers HTTP on `addr`.
pub async fn http_up(addr: SocketAddr) {
    wait_until("HTTP up", Duration::from_secs(20), || async {
        try_get(addr, "/healthz").await.is_ok()
    })
    .await;
}

/// [`ReplicatorProcess::run`] of `cfg` in `dir`, once its HTTP server answers.
pub async fn started(dir: &std::path::Path, cfg: &Config) -> ReplicatorProcess {
    let p = ReplicatorProcess::run(dir, cfg);
    http_up(p.http).await;
    p
}
