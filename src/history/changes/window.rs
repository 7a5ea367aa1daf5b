//! The history's window: since when every change applied to the backup has an entry (`since`,
//! set by the first batch recorded; forgotten by a run with history off, whose changes have
//! none), up to where the backup applied (`applied`, kept current by [`super::prune`]) and
//! from where entries were pruned (`pruned_to`). A restore refuses a time outside it.

use crate::error::{Error, Origin, Result};
use bson::{doc, DateTime, Document, Timestamp};
use mongodb::Database;

/// The window's collection (one document, `_id: "window"`).
pub const WINDOW: &str = "history_window";
const ID: &str = "window";

/// A point of the source's history: a cluster time and its wall time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: Timestamp,
    pub wall: Option<DateTime>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    pub since: Option<Point>,
    pub applied: Option<Point>,
    pub pruned_to: Option<DateTime>,
}

fn coll(db: &Database) -> mongodb::Collection<Document> {
    db.collection(WINDOW)
}

fn err(what: &str, e: &mongodb::error::Error) -> Error {
    Error::from_driver(Origin::Target, what.to_string(), e)
}

/// Starts the window at `first` (an entry) unless it is already open.
pub async fn start(db: &Database, first: &Document) -> Result<()> {
    let since = doc! {"t": first.get("t").cloned(), "wall": first.get("wall").cloned()};
    coll(db)
        .update_one(doc! {"_id": ID}, doc! {"$setOnInsert": {"since": since}})
        .upsert(true)
        .await
        .map_err(|e| err("opening the history window", &e))?;
    Ok(())
}

/// Forgets the window: changes are being applied without entries (history off).
pub async fn forget(db: &Database) -> Result<()> {
    coll(db)
        .delete_one(doc! {"_id": ID})
        .await
        .map_err(|e| err("closing the history window", &e))?;
    Ok(())
}

/// Records that the backup applied everything up to `at`, and entries before `pruned_to` are
/// gone. Only an open window is updated.
pub async fn advance(db: &Database, at: Option<Point>, pruned_to: Option<DateTime>) -> Result<()> {
    let mut set = Document::new();
    if let Some(p) = at {
        set.insert("applied", doc! {"t": p.t, "wall": p.wall});
    }
    if let Some(w) = pruned_to {
        set.insert("pruned_to", w);
    }
    if set.is_empty() {
        return Ok(());
    }
    coll(db)
        .update_one(doc! {"_id": ID}, doc! {"$set": set})
        .await
        .map_err(|e| err("updating the history window", &e))?;
    Ok(())
}

pub async fn load(db: &Database) -> Result<Window> {
    let d = coll(db)
        .find_one(doc! {"_id": ID})
        .await
        .map_err(|e| err("reading the history window", &e))?;
    let point = |d: &Document, name: &str| {
        let p = d.get_document(name).ok()?;
        Some(Point {
            t: p.get_timestamp("t").ok()?,
            wall: p.get_datetime("wall").ok().copied(),
        })
    };
    Ok(match d {
        None => Window::default(),
        Some(d) => Window {
            since: point(&d, "since"),
            applied: point(&d, "applied"),
            pruned_to: d.get_datetime("pruned_to").ok().copied(),
        },
    })
}
