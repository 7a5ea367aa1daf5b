//! Point-in-time restore (`mongo-replicator restore --at T`): the backup's state as of T, from
//! the backup and its change history ([`plan`] says how), written into a new database (every
//! document) or into any deployment (`--into-uri`: only the documents changed after T).
//! Refuses a T outside the history's window ([`super::changes::window`]). Resumable: the
//! copy into a new database records each collection's progress ([`progress`]) and every write
//! is an idempotent upsert or delete by `_id`.

mod apply;
pub mod plan;
mod progress;

pub use apply::{restore_collection, Destination, Job};
pub use plan::{Changed, Counts};

use super::at::{cluster_text, At};
use super::changes::window::{self, Window};
use super::changes::COLLECTION;
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::Database;

/// Refuses `at` outside `w` with a message stating the window (a configuration error: exit 2).
pub fn check_window(w: &Window, at: At) -> Result<()> {
    let refuse = |why: String| Err(Error::new(ErrorKind::Config, Class::Fatal, "--at", why));
    let Some(since) = w.since else {
        return refuse(
            "the backup has no change history (history.enabled = false, or a run without it since)"
                .into(),
        );
    };
    let pruned_ms = w.pruned_to.map_or(i64::MIN, |p| p.timestamp_millis());
    let since_ms = since
        .wall
        .map_or(i64::from(since.t.time) * 1000, |w| w.timestamp_millis());
    let start = if pruned_ms > since_ms {
        w.pruned_to
            .and_then(|p| p.try_to_rfc3339_string().ok())
            .unwrap_or_default()
    } else {
        describe(since.t, since.wall)
    };
    let end = w
        .applied
        .map_or("nothing applied yet".to_string(), |a| describe(a.t, a.wall));
    let window = format!("the history covers {start} to {end}");
    if since_after(since, at) || at.millis() < pruned_ms {
        return refuse(format!(
            "{} is before the retained window: {window}",
            at.text()
        ));
    }
    match w.applied {
        Some(a) if !at.after(a.t, a.wall) => Ok(()),
        _ => refuse(format!(
            "{} is ahead of what the backup has applied: {window}",
            at.text()
        )),
    }
}

/// The window's first change is later than `at` (changes between them have no entries).
fn since_after(since: window::Point, at: At) -> bool {
    match at {
        At::Cluster(c) => {
            (c.time, c.increment) < (since.t.time, since.t.increment.saturating_sub(1))
        }
        At::Wall(w) => since.wall.is_some_and(|s| w < s),
    }
}

fn describe(t: bson::Timestamp, wall: Option<bson::DateTime>) -> String {
    match wall.and_then(|w| w.try_to_rfc3339_string().ok()) {
        Some(w) => format!("{w} (cluster time {})", cluster_text(t)),
        None => cluster_text(t),
    }
}

/// Loads the window of the history in `history` and checks `at` against it.
pub async fn checked(history: &Database, at: At) -> Result<Window> {
    let w = window::load(history).await?;
    check_window(&w, at)?;
    Ok(w)
}

/// The documents changed after `at` (of `collections` and `ids` when given), each with its
/// version at `at`.
pub async fn changed_after(
    history: &Database,
    at: At,
    collections: &[String],
    ids: &[Bson],
) -> Result<Changed> {
    let mut filter = at.filter(true);
    if !collections.is_empty() {
        filter.insert("coll", doc! {"$in": collections.to_vec()});
    }
    if !ids.is_empty() {
        filter.insert("id", doc! {"$in": ids.to_vec()});
    }
    let err = |e: &mongodb::error::Error| {
        Error::from_driver(Origin::Target, "reading the change history", e)
    };
    let mut cursor = history
        .collection::<Document>(COLLECTION)
        .find(filter)
        .sort(doc! {"t": 1, "_id.n": 1})
        .await
        .map_err(|e| err(&e))?;
    let mut changed = Changed::new();
    while let Some(e) = cursor.try_next().await.map_err(|e| err(&e))? {
        plan::add(&mut changed, &e);
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{DateTime, Timestamp};
    use window::Point;

    fn ts(time: u32, increment: u32) -> Timestamp {
        Timestamp { time, increment }
    }

    #[test]
    fn times_outside_the_window_are_refused_with_the_window() {
        let w = Window {
            since: Some(Point {
                t: ts(100, 1),
                wall: Some(DateTime::from_millis(100_000)),
            }),
            applied: Some(Point {
                t: ts(200, 5),
                wall: Some(DateTime::from_millis(200_000)),
            }),
            pruned_to: Some(DateTime::from_millis(50_000)),
        };
        assert!(check_window(&w, At::Cluster(ts(150, 0))).is_ok());
        assert!(check_window(&w, At::Cluster(ts(200, 5))).is_ok());
        let ahead = check_window(&w, At::Cluster(ts(200, 6))).unwrap_err();
        assert_eq!(ahead.kind, ErrorKind::Config);
        assert!(
            ahead
                .to_string()
                .contains("ahead of what the backup has applied"),
            "{ahead}"
        );
        assert!(ahead.to_string().contains("cluster time 200.5"), "{ahead}");
        let early = check_window(&w, At::Cluster(ts(90, 0))).unwrap_err();
        assert!(
            early.to_string().contains("before the retained window"),
            "{early}"
        );
        let none = check_window(&Window::default(), At::Cluster(ts(150, 0))).unwrap_err();
        assert!(none.to_string().contains("no change history"), "{none}");
        let pruned = Window {
            pruned_to: Some(DateTime::from_millis(160_000)),
            ..w
        };
        assert!(check_window(&pruned, At::Cluster(ts(150, 0))).is_err());
    }
}
