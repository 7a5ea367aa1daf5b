//! What a restore to time T does per document. Pure.
//!
//! A document's version at T is the `before` of its first change after T (null: it did not
//! exist), or, without a change after T, the backup's current version. So only the documents
//! changed after T need the history; the rest are the backup's as they are.

use bson::{doc, Bson, Document};
use std::collections::{BTreeMap, HashMap};

/// A document's first change after T.
#[derive(Debug, Clone, PartialEq)]
pub struct Earliest {
    pub id: Bson,
    /// Its version at T (`None`: absent at T).
    pub before: Option<Document>,
    /// False when the history could not tell the version (see `before_known`).
    pub known: bool,
}

/// The documents changed after T, per collection, by the bytes of `{_id}`.
pub type Changed = BTreeMap<String, HashMap<Vec<u8>, Earliest>>;

pub fn id_bytes(id: &Bson) -> Vec<u8> {
    bson::to_vec(&doc! {"_id": id.clone()}).unwrap_or_default()
}

/// Adds one history entry; entries come oldest first, so a key's first entry is kept.
pub fn add(changed: &mut Changed, entry: &Document) {
    let (Ok(coll), Some(id)) = (entry.get_str("coll"), entry.get("id")) else {
        return;
    };
    let per = changed.entry(coll.to_string()).or_default();
    per.entry(id_bytes(id)).or_insert_with(|| Earliest {
        id: id.clone(),
        before: entry.get_document("before").ok().cloned(),
        known: entry.get_bool("before_known").unwrap_or(true),
    });
}

/// What happens to one changed document on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It exists there now and is rewritten to its version at T.
    Restore,
    /// It exists there now but did not at T.
    Delete,
    /// It is gone there now and is written back.
    Recreate,
    /// Absent now and at T.
    Nothing,
}

pub fn action(before: Option<&Document>, present: bool) -> Action {
    match (before, present) {
        (Some(_), true) => Action::Restore,
        (Some(_), false) => Action::Recreate,
        (None, true) => Action::Delete,
        (None, false) => Action::Nothing,
    }
}

/// Per-collection counts (the summary, `--dry-run`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Unchanged since T: copied as they are (into a new database only).
    pub copied: u64,
    pub restored: u64,
    pub deleted: u64,
    pub recreated: u64,
    /// Changed after T but with no known version at T: left as the backup has them.
    pub unknown: u64,
}

impl Counts {
    pub fn count(&mut self, a: Action) {
        match a {
            Action::Restore => self.restored += 1,
            Action::Delete => self.deleted += 1,
            Action::Recreate => self.recreated += 1,
            Action::Nothing => {}
        }
    }

    pub fn line(&self, coll: &str) -> String {
        format!(
            "{coll}: {} restored, {} deleted, {} recreated, {} unchanged copied{}",
            self.restored,
            self.deleted,
            self.recreated,
            self.copied,
            if self.unknown > 0 {
                format!(
                    ", {} with no known version (left as the backup has them)",
                    self.unknown
                )
            } else {
                String::new()
            }
        )
    }
}

/// The default database of a restore: `<target>_restore_<time>`, the time in a name's
/// characters (`1700000000_3`, `20261201T175200Z`).
pub fn default_database(target: &str, at: &str) -> String {
    let time: String = at
        .chars()
        .filter_map(|c| match c {
            '.' => Some('_'),
            '-' | ':' => None,
            c if c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        })
        .collect();
    format!("{target}_restore_{time}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_change_after_t_gives_the_version_at_t() {
        let mut changed = Changed::new();
        add(
            &mut changed,
            &doc! {"coll": "c", "id": 1, "before": {"_id": 1, "v": 1}},
        );
        add(
            &mut changed,
            &doc! {"coll": "c", "id": 1, "before": {"_id": 1, "v": 2}},
        );
        add(
            &mut changed,
            &doc! {"coll": "c", "id": 2, "before": Bson::Null},
        );
        let c = &changed["c"];
        assert_eq!(
            c[&id_bytes(&Bson::Int32(1))].before,
            Some(doc! {"_id": 1, "v": 1})
        );
        assert_eq!(c[&id_bytes(&Bson::Int32(2))].before, None);
    }

    #[test]
    fn actions_and_names() {
        let d = doc! {"_id": 1};
        assert_eq!(action(Some(&d), true), Action::Restore);
        assert_eq!(action(Some(&d), false), Action::Recreate);
        assert_eq!(action(None, true), Action::Delete);
        assert_eq!(action(None, false), Action::Nothing);
        assert_eq!(
            default_database("b", "1700000000.3"),
            "b_restore_1700000000_3"
        );
        assert_eq!(
            default_database("b", "2026-12-01T17:52:00Z"),
            "b_restore_20261201T175200Z"
        );
    }
}
