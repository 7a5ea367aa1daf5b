//! A restore into a new database resumes where it stopped: per (destination, collection,
//! time) the last `_id` copied in `_id` order and whether the collection is done, with its
//! counts, in the collection `restore_progress` beside the history.

use super::plan::Counts;
use crate::error::{Error, Origin, Result};
use bson::{doc, Bson, Document};
use mongodb::Database;

const PROGRESS: &str = "restore_progress";

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub last_id: Option<Bson>,
    pub done: bool,
    pub counts: Counts,
}

fn err(e: &mongodb::error::Error) -> Error {
    Error::from_driver(Origin::Target, "recording the restore's progress", e)
}

pub async fn load(history: &Database, key: &str) -> Result<Progress> {
    let d = history
        .collection::<Document>(PROGRESS)
        .find_one(doc! {"_id": key})
        .await
        .map_err(|e| err(&e))?;
    let Some(d) = d else {
        return Ok(Progress::default());
    };
    let n = |f: &str| d.get_i64(f).map_or(0, |v| v.max(0) as u64);
    Ok(Progress {
        last_id: d.get("last_id").cloned().filter(|b| *b != Bson::Null),
        done: d.get_bool("done").unwrap_or(false),
        counts: Counts {
            copied: n("copied"),
            restored: n("restored"),
            deleted: n("deleted"),
            recreated: n("recreated"),
            unknown: n("unknown"),
        },
    })
}

pub async fn save(history: &Database, key: &str, p: &Progress) -> Result<()> {
    let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let set = doc! {
        "last_id": p.last_id.clone().unwrap_or(Bson::Null),
        "done": p.done,
        "copied": c(p.counts.copied),
        "restored": c(p.counts.restored),
        "deleted": c(p.counts.deleted),
        "recreated": c(p.counts.recreated),
        "unknown": c(p.counts.unknown),
        "updated_at": bson::DateTime::now(),
    };
    history
        .collection::<Document>(PROGRESS)
        .update_one(doc! {"_id": key}, doc! {"$set": set})
        .upsert(true)
        .await
        .map_err(|e| err(&e))?;
    Ok(())
}
