//! DDL on the target, made idempotent: replaying an already applied drop, rename, create or
//! index change is a no-op instead of an error. Every command states the target's write concern
//! (`target.write_concern`), and a `writeConcernError` in a reply is an error, not a success.

use super::target::{with_write_concern, write_concern_error};
use crate::error::codes::{INDEX_NOT_FOUND, NAMESPACE_EXISTS, NAMESPACE_NOT_FOUND};
use crate::error::{command_code, Error, Origin, Result};
use crate::source::namespaces::Namespace;
use crate::source::translate::DdlOp;
use crate::source::Endpoint;
use bson::{doc, Document};
use mongodb::Database;

/// Applies one DDL op to the target.
pub async fn apply_ddl(target: &Endpoint, op: &DdlOp) -> Result<()> {
    let Some((db, on_admin, cmd)) = located_command(target, op) else {
        return Ok(()); // nothing the backup applies (a TTL change is only recorded)
    };
    run_idempotent(&db, on_admin, cmd, &format!("applying {}", describe(op))).await
}

/// Before a rename that replaces a collection whose drop an operator discarded (`apply.hold`):
/// copies the backup's documents of `to` that `from` lacks into `from` (by `_id`; `from`'s
/// win, as the source's), so the rename that follows leaves them under `to`. A replay copies
/// nothing new; a `to` the backup lacks copies nothing.
pub async fn keep_replaced_documents(target: &Endpoint, from: &str, to: &str) -> Result<()> {
    let (db, _) = target.locate(to);
    let (to_ns, from_ns) = (target.namespace(to), target.namespace(from));
    let merge = doc! {
        "into": {"db": &from_ns.db, "coll": &from_ns.coll},
        "on": "_id",
        "whenMatched": "keepExisting",
        "whenNotMatched": "insert",
    };
    let cmd = doc! {"aggregate": &to_ns.coll, "pipeline": [{"$merge": merge}], "cursor": {}};
    let what = format!("keeping the backup's {to} under the rename {from} -> {to} (discarded)");
    run_idempotent(&db, false, cmd, &what).await
}

/// Runs `cmd` on `db` (or on `admin`) with `db`'s write concern; what is already done (a
/// namespace or index gone or there) is success, a `writeConcernError` is not.
async fn run_idempotent(db: &Database, on_admin: bool, cmd: Document, what: &str) -> Result<()> {
    let cmd = with_write_concern(db, cmd);
    let outcome = match on_admin {
        true => db.client().database("admin").run_command(cmd).await,
        false => db.run_command(cmd).await,
    };
    match outcome {
        Ok(reply) => match reply.get_document("writeConcernError") {
            Ok(wce) => Err(write_concern_error(
                what,
                wce.get_i32("code").ok(),
                wce.get_str("errmsg").unwrap_or("write concern error"),
            )),
            Err(_) => Ok(()),
        },
        Err(e) => match command_code(&e) {
            Some(NAMESPACE_NOT_FOUND | INDEX_NOT_FOUND | NAMESPACE_EXISTS) => Ok(()),
            _ => Err(Error::from_driver(Origin::Target, what.to_string(), &e)),
        },
    }
}

/// The database `op` runs on and its command with the target's names: a key's target
/// database, or for a `dropDatabase` the one database the source's maps to whole (none
/// otherwise: the collections' own drops did it).
fn located_command(target: &Endpoint, op: &DdlOp) -> Option<(Database, bool, Document)> {
    let db = match op.collections().first() {
        Some(coll) => target.locate(coll).0,
        None => target
            .client()
            .database(&target.scope().whole_database_target()?),
    };
    let op = with_view_source(target, op);
    let (on_admin, cmd) = ddl_command(&op, &|key| target.namespace(key))?;
    Some((db, on_admin, cmd))
}

/// A view's `viewOn` names a collection of its own database on the source: on the backup it
/// is that collection's target name (a retargeted collection keeps its views working).
fn with_view_source<'a>(target: &Endpoint, op: &'a DdlOp) -> std::borrow::Cow<'a, DdlOp> {
    let DdlOp::Create { coll, options } = op else {
        return std::borrow::Cow::Borrowed(op);
    };
    let Ok(view_on) = options.get_str("viewOn") else {
        return std::borrow::Cow::Borrowed(op);
    };
    let scope = target.scope();
    let sibling = Namespace::new(&scope.source_of(coll).db, view_on);
    let Some(key) = scope.key(&sibling) else {
        return std::borrow::Cow::Borrowed(op);
    };
    let mut options = options.clone();
    options.insert("viewOn", scope.target_of(&key).coll);
    std::borrow::Cow::Owned(DdlOp::Create {
        coll: coll.clone(),
        options,
    })
}

/// The command of `op`, with `target_of` naming each key's target namespace, and whether it
/// runs on `admin` (pure; no write concern); `None` when nothing is sent.
fn ddl_command(op: &DdlOp, target_of: &dyn Fn(&str) -> Namespace) -> Option<(bool, Document)> {
    let name = |key: &str| target_of(key).coll;
    let cmd = match op {
        // The renamed-in collection's documents are copied after it (see `tail::renamed_in`).
        DdlOp::Drop { coll } | DdlOp::RenameIn { coll } => doc! {"drop": name(coll)},
        DdlOp::DropDatabase => doc! {"dropDatabase": 1},
        // Across target databases too: `renameCollection` takes full names.
        DdlOp::Rename { from, to } => {
            let cmd = doc! {"renameCollection": target_of(from).to_string(), "to": target_of(to).to_string(), "dropTarget": true};
            return Some((true, cmd));
        }
        DdlOp::Create { coll, options } => {
            let mut cmd = doc! {"create": name(coll)};
            for (k, v) in options {
                cmd.insert(k.clone(), v.clone());
            }
            cmd
        }
        DdlOp::CreateIndexes { coll, indexes } => {
            doc! {"createIndexes": name(coll), "indexes": clean_specs(indexes)}
        }
        DdlOp::DropIndexes { coll, names } => {
            doc! {"dropIndexes": name(coll), "index": names.clone()}
        }
        DdlOp::Modify { coll, changes } => {
            let changes = backup_coll_mod(changes)?;
            let mut cmd = doc! {"collMod": name(coll)};
            cmd.extend(changes);
            cmd
        }
    };
    Some((false, cmd))
}

/// What of a source `collMod` the backup applies: everything but an index's
/// `expireAfterSeconds` (the backup never expires documents on its own; the value is recorded,
/// [`crate::state::ttl_indexes`]). `None` when nothing is left.
fn backup_coll_mod(changes: &Document) -> Option<Document> {
    let mut changes = changes.clone();
    if let Ok(index) = changes.get_document_mut("index") {
        index.remove("expireAfterSeconds");
        if !index.contains_key("hidden") {
            changes.remove("index");
        }
    }
    (!changes.is_empty()).then_some(changes)
}
/// Index specs as the backup holds them: as `createIndexes` accepts them (no `v`, `ns`, or
/// build-state fields) and without `expireAfterSeconds`, so the backup never expires documents
/// on its own (the source's expiry deletes arrive as events; the value is recorded,
/// [`crate::state::ttl_indexes`]).
pub fn clean_specs(indexes: &[Document]) -> Vec<Document> {
    indexes
        .iter()
        .map(|spec| {
            let mut s = spec.clone();
            for k in ["v", "ns", "background", "expireAfterSeconds"] {
                s.remove(k);
            }
            s
        })
        .collect()
}

fn describe(op: &DdlOp) -> String {
    match op {
        DdlOp::Drop { coll } => format!("drop of {coll}"),
        DdlOp::DropDatabase => "dropDatabase".into(),
        DdlOp::Rename { from, to } => format!("rename {from} -> {to}"),
        DdlOp::RenameIn { coll } => format!("rename into {coll}"),
        DdlOp::Create { coll, .. } => format!("create of {coll}"),
        DdlOp::CreateIndexes { coll, .. } => format!("createIndexes on {coll}"),
        DdlOp::DropIndexes { coll, .. } => format!("dropIndexes on {coll}"),
        DdlOp::Modify { coll, .. } => format!("collMod of {coll}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_b(key: &str) -> Namespace {
        Namespace::new("b", key)
    }
    use mongodb::options::{Acknowledgment, ClientOptions, ServerAddress, WriteConcern};

    #[test]
    fn coll_mod_reaches_the_backup_without_ttl_values() {
        let modify = |changes| DdlOp::Modify {
            coll: "c".into(),
            changes,
        };
        let ttl_only = modify(doc! {"index": {"name": "at_1", "expireAfterSeconds": 60}});
        assert_eq!(
            ddl_command(&ttl_only, &in_b),
            None,
            "a TTL change is only recorded"
        );
        let hidden =
            modify(doc! {"index": {"name": "at_1", "expireAfterSeconds": 60, "hidden": true}});
        assert_eq!(
            ddl_command(&hidden, &in_b),
            Some((
                false,
                doc! {"collMod": "c", "index": {"name": "at_1", "hidden": true}}
            ))
        );
        let validator = modify(doc! {"validator": {"a": 1}, "validationAction": "warn"});
        assert_eq!(
            ddl_command(&validator, &in_b),
            Some((
                false,
                doc! {"collMod": "c", "validator": {"a": 1}, "validationAction": "warn"}
            ))
        );
    }

    #[tokio::test]
    async fn every_ddl_command_states_the_write_concern() {
        let opts = ClientOptions::builder()
            .hosts(vec![ServerAddress::parse("127.0.0.1:1").unwrap()])
            .write_concern(WriteConcern::builder().w(Acknowledgment::Nodes(3)).build())
            .build();
        let target = mongodb::Client::with_options(opts).unwrap().database("b");
        let ops = [
            DdlOp::Drop { coll: "c".into() },
            DdlOp::DropDatabase,
            DdlOp::Rename {
                from: "c".into(),
                to: "d".into(),
            },
            DdlOp::Create {
                coll: "c".into(),
                options: doc! {"capped": true, "size": 4096},
            },
            DdlOp::CreateIndexes {
                coll: "c".into(),
                indexes: vec![doc! {"key": {"a": 1}, "name": "a_1", "v": 2}],
            },
            DdlOp::DropIndexes {
                coll: "c".into(),
                names: vec!["a_1".into()],
            },
            DdlOp::Modify {
                coll: "c".into(),
                changes: doc! {"validator": {"a": 1}},
            },
        ];
        for op in &ops {
            let (on_admin, cmd) = ddl_command(op, &in_b).unwrap();
            assert_eq!(on_admin, matches!(op, DdlOp::Rename { .. }), "{cmd}");
            let cmd = with_write_concern(&target, cmd);
            assert_eq!(
                cmd.get_document("writeConcern").ok(),
                Some(&doc! {"w": 3}),
                "{cmd}"
            );
        }
        let (_, rename) = ddl_command(&ops[2], &in_b).unwrap();
        assert_eq!(
            rename,
            doc! {"renameCollection": "b.c", "to": "b.d", "dropTarget": true}
        );
    }
}
