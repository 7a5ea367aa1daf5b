//! After a resync copy over an existing backup, delete what the source no longer has (and, when
//! drops propagate, collections it no longer has). The backup is never emptied first. A
//! collection `apply.hold` held when history was lost is spared (kept as a discard keeps it).

use crate::apply::run_statements;
use crate::bulk::copy::source_collections;
use crate::bulk::merge_join::{id_ordered, raw_id, MergeJoin, Pair};
use crate::config::Config;
use crate::error::{Error, Origin, Result};
use crate::ops::Reporter;
use crate::source::Endpoint;
use bson::doc;

const DELETE_CHUNK: usize = 1000;

pub async fn prune_extras(
    cfg: &Config,
    source: &Endpoint,
    target: &Endpoint,
    reporter: &Reporter,
    held: &crate::control::holds::HoldState,
) -> Result<()> {
    let source_names = source_collections(source).await?;
    let target_names: Vec<String> =
        crate::bulk::listing::list_target(target, &source_names, Origin::Target)
            .await?
            .into_iter()
            .filter(|l| l.kind == crate::bulk::listing::Kind::Collection)
            .map(|l| l.name)
            .collect();
    for name in &target_names {
        if held.contains_key(name) {
            // Held by `apply.hold` when history was lost: kept as a discard keeps it.
            tracing::warn!(collection = %name, "resync kept the held collection's documents the source no longer has (apply.hold)");
            continue;
        }
        if !source_names.contains(name) {
            if cfg.apply.ddl.drop {
                target
                    .collection::<bson::Document>(name)
                    .drop()
                    .await
                    .map_err(|e| {
                        Error::from_driver(Origin::Target, format!("dropping {name}"), &e)
                    })?;
                tracing::info!(collection = %name, "resync dropped a collection the source no longer has");
            }
            continue;
        }
        let deleted = reporter
            .retry(&format!("pruning {name}"), || {
                prune_collection(source, target, name)
            })
            .await?;
        if deleted > 0 {
            tracing::info!(collection = %name, deleted, "resync deleted documents the source no longer has");
        }
        reporter.resync_finished(name, &[("deleted", deleted)]);
    }
    Ok(())
}

async fn prune_collection(source: &Endpoint, target: &Endpoint, name: &str) -> Result<u64> {
    let s = id_ordered(source, name, true, 10_000, Origin::Source).await?;
    let t = id_ordered(target, name, true, 10_000, Origin::Target).await?;
    let mut join = MergeJoin::new(s, t).await?;
    let mut deletes = Vec::new();
    let mut total = 0u64;
    while let Some(pair) = join.next().await? {
        if let Pair::TargetOnly(d) = pair {
            deletes.push(doc! {"q": {"_id": raw_id(&d)?}, "limit": 1});
            if deletes.len() >= DELETE_CHUNK {
                total += deletes.len() as u64;
                run_statements(
                    target,
                    "delete",
                    name,
                    "deletes",
                    std::mem::take(&mut deletes),
                )
                .await?;
            }
        }
    }
    total += deletes.len() as u64;
    run_statements(target, "delete", name, "deletes", deletes).await?;
    Ok(total)
}
