//! Retention, enforced by the replicator (a TTL index could not keep the window consistent):
//! every tick the window's `applied` point follows the backup, and entries whose wall time is
//! older than `history.retention` are deleted in bounded range deletes (at most
//! [`MAX_PER_TICK`] per tick, so pruning a large backlog never stalls the target).

use super::window::{self, Point};
use super::Changes;
use crate::error::{Error, Origin, Result};
use crate::state::Position;
use bson::{doc, DateTime, Document};
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_secs(1);
/// Entries deleted per command and per tick.
const CHUNK: i64 = 5_000;
pub const MAX_PER_TICK: u64 = 50_000;

/// Runs until `stop`: keeps the window current and prunes. Failures are logged and retried at
/// the next tick (the history is only ever late to shrink, never wrong).
pub async fn run(changes: Arc<Changes>, position: Arc<Position>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.cancelled() => return,
        }
        if let Err(e) = tick(&changes, &position).await {
            tracing::warn!(error = %e, "could not prune the change history; retrying");
        }
    }
}

async fn tick(changes: &Changes, position: &Position) -> Result<()> {
    let change = position.last_cluster_time().map(|ct| Point {
        t: ct.timestamp(),
        wall: position.last_applied_wall_ms().map(DateTime::from_millis),
    });
    // A DDL after the last document change moves the end too (its wall time: its seconds).
    let ddl = changes.last_ddl().map(|t| Point {
        t,
        wall: Some(DateTime::from_millis(i64::from(t.time) * 1000)),
    });
    let applied = match (change, ddl) {
        (Some(c), Some(d)) if (d.t.time, d.t.increment) > (c.t.time, c.t.increment) => Some(d),
        (Some(c), _) => Some(c),
        (None, d) => d,
    };
    let retention_ms = i64::try_from(changes.retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff = DateTime::from_millis(DateTime::now().timestamp_millis() - retention_ms);
    let deleted = prune(changes, cutoff, MAX_PER_TICK).await?;
    if deleted > 0 {
        tracing::debug!(entries = deleted, "pruned the change history");
    }
    window::advance(&changes.db, applied, Some(cutoff)).await
}

/// Deletes up to `max` entries older than `cutoff`, oldest first; returns how many.
pub async fn prune(changes: &Changes, cutoff: DateTime, max: u64) -> Result<u64> {
    let err = |e: &mongodb::error::Error| {
        Error::from_driver(Origin::Target, "pruning the change history", e)
    };
    let entries = changes.entries();
    let mut deleted = 0;
    while deleted < max {
        let ids: Vec<Document> = entries
            .find(doc! {"wall": {"$lt": cutoff}})
            .projection(doc! {"_id": 1})
            .sort(doc! {"wall": 1})
            .limit(CHUNK.min(i64::try_from(max - deleted).unwrap_or(CHUNK)))
            .await
            .map_err(|e| err(&e))?
            .try_collect()
            .await
            .map_err(|e| err(&e))?;
        if ids.is_empty() {
            break;
        }
        let ids: Vec<_> = ids
            .into_iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        let n = ids.len() as u64;
        entries
            .delete_many(doc! {"_id": {"$in": ids}})
            .await
            .map_err(|e| err(&e))?;
        deleted += n;
        if n < CHUNK as u64 && deleted < max {
            break;
        }
    }
    Ok(deleted)
}
