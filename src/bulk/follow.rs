//! The copy follows collections by UUID, not by name (issue 11 item 1). A collection renamed on
//! the source while its copy was unfinished (across a restart, or during the copy) keeps its
//! UUID: its partial copy on the target is moved to the new name and the copy continues there.
//! The tail later replays that rename from the start point; where the copy already holds the
//! renamed collection under the new name, the replayed rename (with `dropTarget`) must not put
//! what the old name holds then (replayed writes from before the rename) over the complete copy:
//! the old name is dropped first. Pure decisions here; the I/O is in `copy` and the watcher.

use crate::bulk::listing::{name_of, Listed};
use crate::source::translate::{ClusterTime, DdlOp};
use crate::state::checkpoint::{CollectionCopy, CopiedCollections};
use bson::{Bson, Document};
use std::collections::BTreeMap;

/// A target collection to move: the copy of `key` is under `from`, the source now calls it `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub key: String,
    pub from: String,
    pub to: String,
}

/// The unfinished or finished copies whose collection the source renamed since their name was
/// recorded (progress keyed by UUID); entries without a recorded name are left alone.
pub fn moves(progress: &BTreeMap<String, CollectionCopy>, listed: &[Listed]) -> Vec<Move> {
    progress
        .iter()
        .filter_map(|(key, p)| {
            let from = p.name.as_ref()?;
            let to = name_of(listed, key)?;
            (from != to).then(|| Move {
                key: key.clone(),
                from: from.clone(),
                to: to.to_string(),
            })
        })
        .collect()
}

/// `collectionUUID` of a change event as [`crate::bulk::listing`] spells UUIDs (lowercase hex).
pub fn event_uuid(event: &Document) -> Option<String> {
    match event.get("collectionUUID") {
        Some(Bson::Binary(b)) => Some(b.bytes.iter().map(|b| format!("{b:02x}")).collect()),
        _ => None,
    }
}

/// What the tail does with a DDL event it replays after a copy.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// Apply it as it is.
    Apply(DdlOp),
    /// The copy already holds the renamed collection under the rename's `to`: drop `stale`
    /// (the old name, holding only writes replayed from before the rename), then apply the
    /// rename, which finds nothing to move but re-reads the keys fetches missed under the old
    /// name at the new one.
    DropFirst { stale: String, op: DdlOp },
    /// The old name now holds another collection the copy wrote: nothing to do.
    Skip,
}

/// What to do with DDL event `op` (of the collection `uuid`, at `at`) given what the last copy
/// wrote.
pub fn replayed(
    op: DdlOp,
    uuid: Option<&str>,
    at: Option<ClusterTime>,
    copied: Option<&CopiedCollections>,
) -> Replayed {
    let DdlOp::Rename { from, to } = &op else {
        return Replayed::Apply(op);
    };
    let (Some(uuid), Some(at), Some(copied)) = (uuid, at, copied) else {
        return Replayed::Apply(op);
    };
    let before_copy_end = copied.until.is_some_and(|until| at <= ClusterTime(until));
    if !before_copy_end || copied.by_name.get(to).map(String::as_str) != Some(uuid) {
        return Replayed::Apply(op);
    }
    match copied.by_name.get(from) {
        Some(other) if other != uuid => Replayed::Skip,
        _ => Replayed::DropFirst {
            stale: from.clone(),
            op,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::listing::Kind;
    use bson::{doc, Timestamp};

    fn listed(name: &str, uuid: &str) -> Listed {
        Listed {
            name: name.into(),
            kind: Kind::Collection,
            uuid: Some(uuid.into()),
            options: doc! {},
        }
    }

    fn progress(name: Option<&str>) -> CollectionCopy {
        CollectionCopy {
            name: name.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn a_renamed_copy_is_moved_to_the_new_name() {
        let p = BTreeMap::from([
            ("u1".to_string(), progress(Some("orders"))),
            ("u2".to_string(), progress(Some("same"))),
            ("u3".to_string(), progress(Some("dropped"))),
            ("legacy".to_string(), progress(None)),
        ]);
        let l = [listed("orders_2024", "u1"), listed("same", "u2")];
        assert_eq!(
            moves(&p, &l),
            vec![Move {
                key: "u1".into(),
                from: "orders".into(),
                to: "orders_2024".into()
            }]
        );
    }

    fn ts(t: u32) -> Option<ClusterTime> {
        Some(ClusterTime(Timestamp {
            time: t,
            increment: 0,
        }))
    }

    fn copied(pairs: &[(&str, &str)]) -> CopiedCollections {
        CopiedCollections {
            by_name: pairs
                .iter()
                .map(|(n, u)| (n.to_string(), u.to_string()))
                .collect(),
            until: Some(Timestamp {
                time: 10,
                increment: 0,
            }),
        }
    }

    #[test]
    fn a_replayed_rename_into_a_copy_of_the_same_collection_drops_the_old_name_first() {
        let rename = DdlOp::Rename {
            from: "orders".into(),
            to: "orders_2024".into(),
        };
        let apply = Replayed::Apply(rename.clone());
        let drop_first = Replayed::DropFirst {
            stale: "orders".into(),
            op: rename.clone(),
        };
        let c = copied(&[("orders_2024", "u1")]);
        let r = |uuid: Option<&str>, t: u32, c: Option<&CopiedCollections>| {
            replayed(rename.clone(), uuid, ts(t), c)
        };
        assert_eq!(r(Some("u1"), 5, Some(&c)), drop_first);
        assert_eq!(r(Some("u1"), 10, Some(&c)), drop_first);
        // After the copy's end, a rename is live: applied as it is.
        assert_eq!(r(Some("u1"), 11, Some(&c)), apply);
        // Another collection under `to`, or nothing to tell by: applied as it is.
        assert_eq!(r(Some("u9"), 5, Some(&c)), apply);
        assert_eq!(r(None, 5, Some(&c)), apply);
        assert_eq!(r(Some("u1"), 5, None), apply);
        // The old name was reused by a collection the copy holds: nothing to do.
        let reused = copied(&[("orders_2024", "u1"), ("orders", "u2")]);
        assert_eq!(r(Some("u1"), 5, Some(&reused)), Replayed::Skip);
        let drop_op = DdlOp::Drop { coll: "x".into() };
        assert_eq!(
            replayed(drop_op.clone(), Some("u1"), ts(5), Some(&c)),
            Replayed::Apply(drop_op)
        );
    }
}
