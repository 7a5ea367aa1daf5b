//! DDL events of the source database: each becomes a [`DdlOp`] barrier, or `Skip` when out of
//! scope or switched off in `apply.ddl`.

use super::{namespace, DdlOp, TranslateError, TranslateOptions, Translated};
use crate::source::namespaces::{KeyRename, Namespace};
use bson::{Bson, Document};

pub(super) fn translate_ddl(
    op_type: &str,
    event: &Document,
    opts: &TranslateOptions,
) -> Result<Translated, TranslateError> {
    let ns = namespace(event, "ns")?;
    if op_type == "rename" {
        return rename(event, opts, &ns);
    }
    let Some(coll) = opts.in_scope(&ns) else {
        return Ok(Translated::Skip);
    };
    let ddl = &opts.ddl;
    let op = match op_type {
        "drop" => ddl.drop.then_some(DdlOp::Drop { coll }),
        "create" => ddl.create.then(|| DdlOp::Create {
            coll,
            options: event
                .get_document("operationDescription")
                .cloned()
                .unwrap_or_default(),
        }),
        "createIndexes" => match ddl.create_indexes {
            true => Some(DdlOp::CreateIndexes {
                coll,
                indexes: index_specs(event)?,
            }),
            false => None,
        },
        "dropIndexes" => match ddl.drop_indexes {
            true => Some(DdlOp::DropIndexes {
                coll,
                names: index_names(event)?,
            }),
            false => None,
        },
        // `collMod`: its `operationDescription` is the command's options (`index` as
        // `{name | keyPattern, ...}`), applied as given but for TTL values (`apply::ddl`).
        "modify" => event
            .get_document("operationDescription")
            .ok()
            .filter(|changes| ddl.modify && !changes.is_empty())
            .map(|changes| DdlOp::Modify {
                coll,
                changes: changes.clone(),
            }),
        _ => None,
    };
    Ok(op.map_or(Translated::Skip, Translated::Ddl))
}

/// A rename within scope is a rename; one leaving the scope (another database, or a name no
/// rule selects) removes the collection from the backup, so it is a drop and needs both the
/// `rename` and the `drop` switch; one entering it copies the collection anew.
fn rename(
    event: &Document,
    opts: &TranslateOptions,
    from: &super::Namespace,
) -> Result<Translated, TranslateError> {
    let to = rename_target(event)?;
    let (Some(from_coll), Some(to_coll)) = (&from.coll, &to.coll) else {
        return Err(TranslateError(
            "rename event without collection names".into(),
        ));
    };
    if !opts.ddl.rename {
        return Ok(Translated::Skip);
    }
    let op = match opts.scope.rename(
        &Namespace::new(&from.db, from_coll),
        &Namespace::new(&to.db, to_coll),
    ) {
        KeyRename::Within(from, to) => Some(DdlOp::Rename { from, to }),
        KeyRename::Into(coll) => Some(DdlOp::RenameIn { coll }),
        KeyRename::OutOf(coll) => opts.ddl.drop.then_some(DdlOp::Drop { coll }),
        KeyRename::Outside => None,
    };
    Ok(op.map_or(Translated::Skip, Translated::Ddl))
}

/// Whether a `rename` event replaced a collection that existed under the new name: its
/// `operationDescription.dropTarget` (that collection's UUID) is there only then (servers with
/// `showExpandedEvents`). The backup's copy of that collection would go with it
/// (`apply.hold.drops` holds such a rename).
pub fn replaced_a_collection(event: &bson::RawDocument) -> bool {
    event
        .get_document("operationDescription")
        .is_ok_and(|d| d.get("dropTarget").is_ok_and(|t| t.is_some()))
}

/// The `to` namespace of a rename event.
fn rename_target(event: &Document) -> Result<super::Namespace, TranslateError> {
    // `to` at the top level; servers with showExpandedEvents also repeat it in operationDescription.
    match event.get_document("operationDescription") {
        Ok(desc) if !event.contains_key("to") => namespace(desc, "to"),
        _ => namespace(event, "to"),
    }
}

/// `operationDescription.indexes`: the index specs as `createIndexes` takes them.
fn index_specs(event: &Document) -> Result<Vec<Document>, TranslateError> {
    let bad = || TranslateError("index event without `operationDescription.indexes`".into());
    let indexes = event
        .get_document("operationDescription")
        .and_then(|d| d.get_array("indexes"))
        .map_err(|_| bad())?;
    indexes
        .iter()
        .map(|i| match i {
            Bson::Document(d) => Ok(d.clone()),
            _ => Err(bad()),
        })
        .collect()
}

fn index_names(event: &Document) -> Result<Vec<String>, TranslateError> {
    index_specs(event)?
        .iter()
        .map(|spec| {
            spec.get_str("name")
                .map(str::to_string)
                .map_err(|_| TranslateError("dropped index without a `name`".into()))
        })
        .collect()
}

impl DdlOp {
    /// The collections (keys) `self` names, a rename's source first; none for `dropDatabase`.
    pub fn collections(&self) -> Vec<&str> {
        match self {
            DdlOp::Rename { from, to } => vec![from, to],
            DdlOp::DropDatabase => Vec::new(),
            DdlOp::Drop { coll }
            | DdlOp::RenameIn { coll }
            | DdlOp::Create { coll, .. }
            | DdlOp::CreateIndexes { coll, .. }
            | DdlOp::DropIndexes { coll, .. }
            | DdlOp::Modify { coll, .. } => vec![coll],
        }
    }

    /// One line for logs, the run history and the event stream: the operation, its collections
    /// and index or option names. Never option values (a validator or a partial filter can hold
    /// literal values).
    pub fn describe(&self) -> String {
        let names = |v: &mut dyn Iterator<Item = &str>| v.collect::<Vec<_>>().join(", ");
        match self {
            DdlOp::Drop { coll } => format!("drop {coll}"),
            DdlOp::Rename { from, to } => format!("rename {from} -> {to}"),
            DdlOp::RenameIn { coll } => format!("rename into {coll} (copied again)"),
            DdlOp::DropDatabase => "dropDatabase".to_owned(),
            DdlOp::Create { coll, options } => match options.is_empty() {
                true => format!("create {coll}"),
                false => format!(
                    "create {coll} (options: {})",
                    names(&mut options.keys().map(String::as_str))
                ),
            },
            DdlOp::CreateIndexes { coll, indexes } => format!(
                "createIndexes {coll} ({})",
                names(&mut indexes.iter().map(|i| i.get_str("name").unwrap_or("?")))
            ),
            DdlOp::DropIndexes {
                coll,
                names: dropped,
            } => format!(
                "dropIndexes {coll} ({})",
                names(&mut dropped.iter().map(String::as_str))
            ),
            DdlOp::Modify { coll, changes } => format!(
                "collMod {coll} ({})",
                names(&mut changes.keys().map(String::as_str))
            ),
        }
    }
}

#[cfg(test)]
mod describe_tests {
    use super::DdlOp;
    use bson::doc;

    #[test]
    fn describe_names_collections_and_indexes_but_no_option_values() {
        let create = DdlOp::Create {
            coll: "orders".into(),
            options: doc! {"validator": {"status": {"$in": ["secret-value"]}}},
        };
        assert_eq!(create.describe(), "create orders (options: validator)");
        let idx = DdlOp::CreateIndexes {
            coll: "orders".into(),
            indexes: vec![
                doc! {"name": "email_1", "key": {"email": 1}, "partialFilterExpression": {"tier": "gold"}},
            ],
        };
        assert_eq!(idx.describe(), "createIndexes orders (email_1)");
        let m = DdlOp::Modify {
            coll: "o".into(),
            changes: doc! {"index": {"name": "ttl", "expireAfterSeconds": 5}},
        };
        assert_eq!(m.describe(), "collMod o (index)");
        assert_eq!(
            DdlOp::Rename {
                from: "a".into(),
                to: "b".into()
            }
            .describe(),
            "rename a -> b"
        );
        assert_eq!(DdlOp::DropDatabase.describe(), "dropDatabase");
    }

    #[test]
    fn a_rename_names_both_collections_and_a_database_drop_none() {
        let rename = DdlOp::Rename {
            from: "a".into(),
            to: "b".into(),
        };
        assert_eq!(rename.collections(), ["a", "b"]);
        assert!(DdlOp::DropDatabase.collections().is_empty());
        assert_eq!(DdlOp::Drop { coll: "c".into() }.collections(), ["c"]);
    }
}
