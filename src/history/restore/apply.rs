//! One collection of a restore: the writes (upserts and deletes by `_id`, idempotent) and the
//! counts, or only the counts for `--dry-run`.

use super::plan::{action, id_bytes, Action, Counts, Earliest};
use super::progress::{self, Progress};
use crate::apply::{delete_statement, raw, send_statements, upsert_statement};
use crate::error::{Error, Origin, Result};
use crate::ops::progress_bars::ProgressBars;
use crate::source::Endpoint;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::Database;
use std::collections::{HashMap, HashSet};

/// Documents per write command and per progress record.
const CHUNK: usize = 1000;

/// Where the restored state goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// A new database: every document as of T (unchanged ones copied from the backup).
    NewDatabase,
    /// An existing deployment (e.g. the source): only the documents changed after T.
    Deployment,
}

/// What one collection's restore reads and writes.
pub struct Job<'a> {
    /// The backup (keys to their target names) and where the restore writes.
    pub backup: &'a Endpoint,
    pub dest: &'a Endpoint,
    pub history: &'a Database,
    /// `--at` as given, part of the progress key.
    pub at: String,
    pub ids: &'a [Bson],
    pub dry_run: bool,
    pub bars: &'a ProgressBars,
}

fn err(what: &str, e: &mongodb::error::Error) -> Error {
    Error::from_driver(Origin::Target, what.to_string(), e)
}

/// Restores `coll`; `changed` are its documents changed after T.
pub async fn restore_collection(
    job: &Job<'_>,
    coll: &str,
    changed: &HashMap<Vec<u8>, Earliest>,
    to: Destination,
) -> Result<Counts> {
    let key = format!("{}|{}|{}", job.dest.name(), coll, job.at);
    let mut p = match (to, job.dry_run) {
        (Destination::NewDatabase, false) => progress::load(job.history, &key).await?,
        _ => Progress::default(),
    };
    if p.done {
        return Ok(p.counts);
    }
    if to == Destination::NewDatabase {
        copy_unchanged(job, coll, changed, &key, &mut p).await?;
    }
    let present_on = if to == Destination::NewDatabase {
        job.backup
    } else {
        job.dest
    };
    let present = present_ids(present_on, coll, changed.values().map(|e| &e.id)).await?;
    let mut updates = Vec::new();
    let mut deletes = Vec::new();
    let mut counts = Counts::default();
    for e in changed.values() {
        if !e.known {
            counts.unknown += 1;
            continue;
        }
        let a = action(e.before.as_ref(), present.contains(&id_bytes(&e.id)));
        counts.count(a);
        let q = raw(&doc! {"_id": e.id.clone()});
        match (a, &e.before) {
            (Action::Restore | Action::Recreate, Some(d)) => {
                updates.push(upsert_statement(&q, &raw(d)));
            }
            (Action::Delete, _) if to == Destination::Deployment => {
                deletes.push(delete_statement(&q));
            }
            _ => {}
        }
    }
    if !job.dry_run {
        send(job.dest, coll, "delete", "deletes", &deletes).await?;
        send(job.dest, coll, "update", "updates", &updates).await?;
    }
    p.counts = Counts {
        copied: p.counts.copied,
        ..counts
    };
    if to == Destination::NewDatabase && !job.dry_run {
        p.done = true;
        progress::save(job.history, &key, &p).await?;
    }
    Ok(p.counts)
}

/// Copies the backup's documents not changed after T (or whose version at T is unknown), in
/// `_id` order from where a previous attempt stopped.
async fn copy_unchanged(
    job: &Job<'_>,
    coll: &str,
    changed: &HashMap<Vec<u8>, Earliest>,
    key: &str,
    p: &mut Progress,
) -> Result<()> {
    let backup = job.backup.collection::<Document>(coll);
    let mut filter = Document::new();
    if !job.ids.is_empty() {
        filter.insert("_id", doc! {"$in": job.ids.to_vec()});
    }
    if job.dry_run {
        let total = backup
            .count_documents(filter)
            .await
            .map_err(|e| err("counting a backup collection", &e))?;
        let known = changed.values().filter(|e| e.known).map(|e| &e.id);
        let present = present_ids(job.backup, coll, known).await?;
        p.counts.copied = total.saturating_sub(present.len() as u64);
        return Ok(());
    }
    if let Some(last) = &p.last_id {
        filter = doc! {"$and": [filter, {"_id": {"$gt": last.clone()}}]};
    }
    let total = backup.estimated_document_count().await.unwrap_or(0);
    let bar = job.bars.collection(coll, total, p.counts.copied);
    let mut cursor = backup
        .find(filter)
        .sort(doc! {"_id": 1})
        .await
        .map_err(|e| err("reading a backup collection", &e))?;
    let mut chunk: Vec<RawDocumentBuf> = Vec::new();
    let mut last = None;
    let mut read = 0u64;
    loop {
        let next = cursor
            .try_next()
            .await
            .map_err(|e| err("reading a backup collection", &e))?;
        if let Some(d) = &next {
            if let Some(id) = d.get("_id") {
                last = Some(id.clone());
                read += 1;
                let keep = changed.get(&id_bytes(id)).is_none_or(|e| !e.known);
                if keep {
                    chunk.push(upsert_statement(&raw(&doc! {"_id": id.clone()}), &raw(d)));
                }
            }
        }
        if chunk.len() >= CHUNK || (next.is_none() && (read > 0 || !chunk.is_empty())) {
            send(job.dest, coll, "update", "updates", &chunk).await?;
            p.counts.copied += chunk.len() as u64;
            p.last_id = last.clone();
            progress::save(job.history, key, p).await?;
            bar.advance(read);
            chunk.clear();
            read = 0;
        }
        if next.is_none() {
            break;
        }
    }
    bar.finish();
    Ok(())
}

/// The `_id`s (as bytes) of `ids` that `db.coll` holds, read `_id $in` in chunks.
async fn present_ids<'a>(
    db: &Endpoint,
    coll: &str,
    ids: impl Iterator<Item = &'a Bson>,
) -> Result<HashSet<Vec<u8>>> {
    let ids: Vec<Bson> = ids.cloned().collect();
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<Document> = db
            .collection::<Document>(coll)
            .find(doc! {"_id": {"$in": chunk.to_vec()}})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| err("reading the destination", &e))?
            .try_collect()
            .await
            .map_err(|e| err("reading the destination", &e))?;
        out.extend(found.iter().filter_map(|d| d.get("_id")).map(id_bytes));
    }
    Ok(out)
}

async fn send(
    db: &Endpoint,
    coll: &str,
    command: &str,
    field: &str,
    statements: &[RawDocumentBuf],
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    send_statements(db, command, coll, field, statements).await
}
