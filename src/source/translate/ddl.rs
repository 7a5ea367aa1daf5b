//! DDL events of the source database: each becomes a [`DdlOp`] barrier, or `Skip` when out of
//! scope or switched off in `apply.ddl`.

use super::{namespace, DdlOp, TranslateError, TranslateOptions, Translated};
use bson::{Bson, Document};

pub(super) fn translate_ddl(
    op_type: &str,
    event: &Document,
    opts: &TranslateOptions,
) -> Result<Translated, TranslateError> {
    let ns = namespace(event, "ns")?;
    let Some(coll) = opts.in_scope(&ns) else {
        if op_type == "rename" && ns.db == opts.source_db && opts.ddl.rename {
            return rename_in(event, opts);
        }
        return Ok(Translated::Skip);
    };
    let ddl = &opts.ddl;
    let op = match op_type {
        "drop" => ddl.drop.then_some(DdlOp::Drop { coll }),
        "rename" => rename(event, opts, coll)?,
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

/// A rename within scope is a rename; a rename leaving the scope (another database, or a
/// collection filtered out) removes the collection from the backup, so it is a drop and needs
/// both the `rename` and the `drop` switch.
fn rename(
    event: &Document,
    opts: &TranslateOptions,
    from: String,
) -> Result<Option<DdlOp>, TranslateError> {
    let to = rename_target(event)?;
    if !opts.ddl.rename {
        return Ok(None);
    }
    Ok(match opts.in_scope(&to) {
        Some(to) => Some(DdlOp::Rename { from, to }),
        None => opts.ddl.drop.then_some(DdlOp::Drop { coll: from }),
    })
}

/// A rename from outside the scope into it: the target collection is copied again.
fn rename_in(event: &Document, opts: &TranslateOptions) -> Result<Translated, TranslateError> {
    Ok(match opts.in_scope(&rename_target(event)?) {
        Some(coll) => Translated::Ddl(DdlOp::RenameIn { coll }),
        None => Translated::Skip,
    })
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
