//! The order in which one collection's plan is sent to the target. Pure: the writer and the
//! property-test oracle both call [`order`], so the contract lives in one place.
//!
//! Per collection, with `read` the documents the source returned for the plan's fetches:
//! 1. one `delete` command with the plan's deletes, first: it frees unique-index values the
//!    upserts below may take. Keys in `deletes` never appear in `updates` or `fetches`
//!    (coalescing), so moving them first changes no key's history.
//! 2. one ordered `update` command: the upserts of the fetched keys the source still has,
//!    then the plan's `updates` in stream order. A fetched key's later events were absorbed by
//!    the fetch (coalescing), so its upsert comes before any of its updates.
//!
//! A fetched key the source no longer has gets no statement: its delete, drop or rename is a
//! later event of the stream and applies in order (deleting now could lose a document that
//! left with its renamed collection). It is reported as gone (see [`crate::state::gone_keys`]).
//!
//! A delta the target refuses with a path conflict (the target is ahead of the event, during a
//! replay) is the writer's to handle: it replays the batch op by op and re-reads that key.

use super::batch::CollectionPlan;
use super::fetch::match_found;
use super::statements::{raw, upsert_statement};
use bson::{Document, RawDocument};
use std::borrow::Cow;

/// Which bulk command a [`Command`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Delete,
    Update,
}

impl CommandKind {
    /// The command name (`delete` / `update`).
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Delete => "delete",
            CommandKind::Update => "update",
        }
    }

    /// The field holding the statements (`deletes` / `updates`).
    pub fn field(self) -> &'static str {
        match self {
            CommandKind::Delete => "deletes",
            CommandKind::Update => "updates",
        }
    }
}

/// One ordered bulk command (`ordered: true`); never empty. The plan's statements are
/// borrowed (a retried batch sends them again), the upserts of fetched documents owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Command<'a> {
    pub kind: CommandKind,
    pub statements: Vec<Cow<'a, RawDocument>>,
}

/// A collection plan in send order, with what its fetches found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ordered<'a> {
    pub commands: Vec<Command<'a>>,
    /// Fetched keys the source has: written by an upsert in `commands`.
    pub found: Vec<Document>,
    /// Fetched keys the source no longer has: no statement was made for them.
    pub gone: Vec<Document>,
}

/// The commands for `plan`, in send order; `read` is what the source returned for
/// `plan.fetches` (any order; a key with no document is gone).
pub fn order(plan: &CollectionPlan, read: Vec<Document>) -> Ordered<'_> {
    fn borrowed(s: &[bson::RawDocumentBuf]) -> Vec<Cow<'_, RawDocument>> {
        s.iter().map(|d| Cow::Borrowed(d.as_ref())).collect()
    }
    let (found, gone) = match_found(&plan.fetches, read);
    let mut updates = Vec::with_capacity(found.len() + plan.updates.len());
    let mut found_keys = Vec::with_capacity(found.len());
    for (key, doc) in found {
        updates.push(Cow::Owned(upsert_statement(&raw(&key), &raw(&doc))));
        found_keys.push(key);
    }
    updates.extend(borrowed(&plan.updates));
    let commands = [
        (CommandKind::Delete, borrowed(&plan.deletes)),
        (CommandKind::Update, updates),
    ]
    .into_iter()
    .filter(|(_, statements)| !statements.is_empty())
    .map(|(kind, statements)| Command { kind, statements })
    .collect();
    Ordered {
        commands,
        found: found_keys,
        gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn plan() -> CollectionPlan {
        CollectionPlan {
            updates: vec![raw(
                &doc! {"q": {"_id": 3}, "u": {"$set": {"v": 1}}, "upsert": false, "multi": false},
            )],
            deletes: vec![raw(&doc! {"q": {"_id": 1}, "limit": 1})],
            fetches: vec![doc! {"_id": 2}, doc! {"_id": 4}],
        }
    }

    /// Each command as (kind, statements decoded).
    fn decoded(ordered: &Ordered) -> Vec<(CommandKind, Vec<Document>)> {
        let doc = |s: &Cow<RawDocument>| Document::try_from(s.as_ref()).unwrap();
        ordered
            .commands
            .iter()
            .map(|c| (c.kind, c.statements.iter().map(doc).collect()))
            .collect()
    }

    #[test]
    fn deletes_first_then_found_upserts_then_updates() {
        let plan = plan();
        let ordered = order(&plan, vec![doc! {"_id": 2, "v": 9}]);
        assert_eq!(
            decoded(&ordered),
            vec![
                (
                    CommandKind::Delete,
                    vec![doc! {"q": {"_id": 1}, "limit": 1}]
                ),
                (
                    CommandKind::Update,
                    vec![
                        doc! {"q": {"_id": 2}, "u": {"_id": 2, "v": 9}, "upsert": true, "multi": false},
                        doc! {"q": {"_id": 3}, "u": {"$set": {"v": 1}}, "upsert": false, "multi": false},
                    ],
                ),
            ]
        );
        assert_eq!(ordered.found, vec![doc! {"_id": 2}]);
        assert_eq!(ordered.gone, vec![doc! {"_id": 4}]);
    }

    #[test]
    fn a_gone_key_gets_no_statement() {
        let plan = CollectionPlan {
            fetches: vec![doc! {"_id": 7}],
            ..CollectionPlan::default()
        };
        let ordered = order(&plan, vec![]);
        assert!(ordered.commands.is_empty(), "{:?}", ordered.commands);
        assert!(ordered.found.is_empty());
        assert_eq!(ordered.gone, vec![doc! {"_id": 7}]);
    }

    #[test]
    fn empty_commands_are_left_out() {
        let only_deletes = CollectionPlan {
            deletes: vec![raw(&doc! {"q": {"_id": 1}, "limit": 1})],
            ..CollectionPlan::default()
        };
        let kinds: Vec<_> = order(&only_deletes, vec![])
            .commands
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, vec![CommandKind::Delete]);
        assert_eq!(
            order(&CollectionPlan::default(), vec![]),
            Ordered::default()
        );
    }
}
