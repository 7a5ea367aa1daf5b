//! Write commands: `insert`, `update`, `delete`, `findAndModify`, with replies shaped exactly as
//! mongod's (`n`, `nModified`, `upserted`, `writeErrors`). `ordered: false` goes on past errors.

use super::args;
use crate::error::{CmdError, CmdResult};
use crate::server::ServerState;
use crate::store::{
    DeleteStatement, FindAndModify, Namespace, UpdateStatement, WriteOptions, WriteOutcome,
};
use crate::update::UpdateSpec;
use bson::{doc, oid::ObjectId, Bson, Document};

const MAX_WRITE_BATCH: usize = 100_000;

fn check_batch(len: usize) -> CmdResult<()> {
    if len == 0 {
        return Err(CmdError::new(
            crate::error::code::INVALID_OPTIONS,
            "InvalidLength",
            "Write batch sizes must be between 1 and 100000. Got 0 operations.",
        ));
    }
    if len > MAX_WRITE_BATCH {
        return Err(CmdError::new(
            crate::error::code::INVALID_OPTIONS,
            "InvalidLength",
            format!("Write batch sizes must be between 1 and 100000. Got {len} operations."),
        ));
    }
    Ok(())
}

/// `bypassDocumentValidation` of a write command.
fn write_options(cmd: &Document) -> WriteOptions {
    WriteOptions {
        bypass_validation: args::flag(cmd, "bypassDocumentValidation"),
    }
}

/// Writes to a view fail with CommandNotSupportedOnView (166).
fn not_a_view(state: &ServerState, ns: &Namespace) -> CmdResult<()> {
    match state.store.view_of(ns) {
        Some(_) => Err(CmdError::new(
            crate::error::code::COMMAND_NOT_SUPPORTED_ON_VIEW,
            "CommandNotSupportedOnView",
            format!("Namespace {ns} is a view, not a collection"),
        )),
        None => Ok(()),
    }
}

/// Adds an ObjectId `_id` in first position when the client did not send one, as mongod does.
fn with_id(doc: Document) -> Document {
    if doc.contains_key("_id") {
        return doc;
    }
    let mut out = doc! { "_id": ObjectId::new() };
    out.extend(doc);
    out
}

pub(super) fn insert(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "insert")?;
    let docs: Vec<Document> = args::doc_array(cmd, "documents")?
        .into_iter()
        .map(with_id)
        .collect();
    check_batch(docs.len())?;
    not_a_view(state, &ns)?;
    let outcome = state
        .store
        .insert_with(&ns, docs, args::ordered(cmd), &write_options(cmd));
    Ok(render(outcome, false))
}

/// Statements that parse run in runs between the ones that do not; a statement that does not
/// parse becomes a write error at its index (as mongod reports a bad update document).
fn run_statements<S>(
    parsed: Vec<CmdResult<S>>,
    ordered: bool,
    mut run: impl FnMut(&[S]) -> WriteOutcome,
) -> WriteOutcome {
    let mut total = WriteOutcome::default();
    let mut pending: Vec<S> = Vec::new();
    let mut pending_start = 0usize;
    let mut flush = |pending: &mut Vec<S>, start: usize, total: &mut WriteOutcome| -> bool {
        if pending.is_empty() {
            return true;
        }
        let out = run(pending);
        pending.clear();
        total.n += out.n;
        total.n_modified += out.n_modified;
        total
            .upserted
            .extend(out.upserted.into_iter().map(|(i, id)| (i + start, id)));
        let failed = !out.write_errors.is_empty();
        total
            .write_errors
            .extend(out.write_errors.into_iter().map(|(i, e)| (i + start, e)));
        !(failed && ordered)
    };
    let count = parsed.len();
    for (i, stmt) in parsed.into_iter().enumerate() {
        match stmt {
            Ok(s) => {
                if pending.is_empty() {
                    pending_start = i;
                }
                pending.push(s);
            }
            Err(e) => {
                if !flush(&mut pending, pending_start, &mut total) {
                    return total;
                }
                total.write_errors.push((i, e));
                if ordered {
                    return total;
                }
            }
        }
        if i + 1 == count {
            flush(&mut pending, pending_start, &mut total);
        }
    }
    total
}

fn parse_update_statement(u: &Document) -> CmdResult<UpdateStatement> {
    let filter = args::opt_doc(u, "q")?.cloned().unwrap_or_default();
    let update = match u.get("u") {
        Some(Bson::Document(d)) => UpdateSpec::parse(d)?,
        Some(Bson::Array(stages)) => pipeline_update(stages, u)?,
        _ => {
            return Err(CmdError::failed_to_parse(
                "BSON field 'update.updates.u' is missing but a required field",
            ))
        }
    };
    let multi = args::flag(u, "multi");
    if multi && update.is_replacement() {
        return Err(CmdError::failed_to_parse(
            "multi update is not supported for replacement-style update",
        ));
    }
    Ok(UpdateStatement {
        filter,
        update,
        upsert: args::flag(u, "upsert"),
        multi,
        sort: args::opt_doc(u, "sort")?.cloned(),
        collation: args::opt_doc(u, "collation")?.cloned(),
    })
}

/// A pipeline-style update; `holder` is the statement (or `findAndModify` command) carrying it,
/// where a non-empty `arrayFilters` is refused as on mongod (there is no `$[<id>]` to bind).
fn pipeline_update(stages: &[Bson], holder: &Document) -> CmdResult<UpdateSpec> {
    if matches!(holder.get("arrayFilters"), Some(Bson::Array(f)) if !f.is_empty()) {
        return Err(CmdError::failed_to_parse(
            "arrayFilters may not be specified for pipeline-style updates",
        ));
    }
    UpdateSpec::parse_pipeline(stages)
}

pub(super) fn update(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "update")?;
    not_a_view(state, &ns)?;
    let stmts = args::doc_array(cmd, "updates")?;
    check_batch(stmts.len())?;
    let parsed = stmts.iter().map(parse_update_statement).collect();
    let outcome = run_statements(parsed, args::ordered(cmd), |s| {
        state
            .store
            .update_with(&ns, s, args::ordered(cmd), &write_options(cmd))
    });
    Ok(render(outcome, true))
}

fn parse_delete_statement(d: &Document) -> CmdResult<DeleteStatement> {
    let filter = args::opt_doc(d, "q")?.cloned().unwrap_or_default();
    let limit_one = match args::opt_i64(d, "limit")? {
        Some(0) => false,
        Some(1) => true,
        None => {
            return Err(CmdError::failed_to_parse(
                "BSON field 'delete.deletes.limit' is missing but a required field",
            ))
        }
        Some(n) => {
            return Err(CmdError::failed_to_parse(format!(
                "The limit field in delete objects must be 0 or 1. Got {n}"
            )))
        }
    };
    Ok(DeleteStatement {
        filter,
        limit_one,
        collation: args::opt_doc(d, "collation")?.cloned(),
    })
}

pub(super) fn delete(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "delete")?;
    not_a_view(state, &ns)?;
    let stmts = args::doc_array(cmd, "deletes")?;
    check_batch(stmts.len())?;
    let parsed = stmts.iter().map(parse_delete_statement).collect();
    let outcome = run_statements(parsed, args::ordered(cmd), |s| {
        state.store.delete(&ns, s, args::ordered(cmd))
    });
    Ok(render(outcome, false))
}

/// `{n, nModified?, upserted?, writeErrors?}`.
fn render(outcome: WriteOutcome, is_update: bool) -> Document {
    let mut reply = doc! { "n": outcome.n as i32 };
    if is_update {
        if !outcome.upserted.is_empty() {
            let upserted: Vec<Document> = outcome
                .upserted
                .into_iter()
                .map(|(i, id)| doc! { "index": i as i32, "_id": id })
                .collect();
            reply.insert("upserted", upserted);
        }
        reply.insert("nModified", outcome.n_modified as i32);
    }
    if !outcome.write_errors.is_empty() {
        let errs: Vec<Document> = outcome
            .write_errors
            .iter()
            .map(|(i, e)| e.to_write_error(*i))
            .collect();
        reply.insert("writeErrors", errs);
    }
    reply
}

pub(super) fn find_and_modify(
    state: &ServerState,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    let name = if cmd.contains_key("findAndModify") {
        "findAndModify"
    } else {
        "findandmodify"
    };
    let ns = args::namespace(db, cmd, name)?;
    let remove = args::flag(cmd, "remove");
    let update = match cmd.get("update") {
        None | Some(Bson::Null) => None,
        Some(Bson::Document(d)) => Some(UpdateSpec::parse(d)?),
        Some(Bson::Array(stages)) => Some(pipeline_update(stages, cmd)?),
        Some(_) => {
            return Err(CmdError::type_mismatch(
                "BSON field 'update' must be an object",
            ))
        }
    };
    if remove == update.is_some() {
        return Err(CmdError::failed_to_parse(
            "Either an update or remove=true must be specified",
        ));
    }
    let upsert = args::flag(cmd, "upsert");
    let return_new = args::flag(cmd, "new");
    if remove && (upsert || return_new) {
        return Err(CmdError::failed_to_parse(
            "Cannot specify both an update and remove=true, or upsert/new with remove",
        ));
    }
    let args = FindAndModify {
        filter: args::opt_doc(cmd, "query")?.cloned().unwrap_or_default(),
        sort: args::opt_doc(cmd, "sort")?.cloned(),
        remove,
        update,
        return_new,
        upsert,
        fields: args::opt_doc(cmd, "fields")?.cloned(),
        collation: args::opt_doc(cmd, "collation")?.cloned(),
    };
    not_a_view(state, &ns)?;
    let out = state
        .store
        .find_and_modify_with(&ns, &args, &write_options(cmd))?;
    Ok(doc! {
        "lastErrorObject": out.last_error_object,
        "value": out.value.map(Bson::Document).unwrap_or(Bson::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(
        parsed: Vec<CmdResult<u32>>,
        ordered: bool,
        fail_on: u32,
    ) -> (WriteOutcome, Vec<Vec<u32>>) {
        let mut calls = Vec::new();
        let out = run_statements(parsed, ordered, |s| {
            calls.push(s.to_vec());
            let mut o = WriteOutcome::default();
            for (i, v) in s.iter().enumerate() {
                if *v == fail_on {
                    o.write_errors.push((i, CmdError::bad_value("store")));
                    if ordered {
                        break;
                    }
                } else {
                    o.n += 1;
                }
            }
            o
        });
        (out, calls)
    }

    #[test]
    fn parse_errors_become_write_errors_at_their_index() {
        let bad = || Err(CmdError::failed_to_parse("bad"));
        let (out, calls) = run_with(vec![Ok(1), bad(), Ok(3), Ok(4)], false, 4);
        assert_eq!(calls, vec![vec![1], vec![3, 4]]);
        assert_eq!(out.n, 2);
        let idx: Vec<usize> = out.write_errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![1, 3], "store error index offset by the run start");

        let (out, calls) = run_with(vec![Ok(1), bad(), Ok(3)], true, 0);
        assert_eq!(calls, vec![vec![1]], "ordered stops at the bad statement");
        assert_eq!((out.n, out.write_errors.len()), (1, 1));

        let (out, calls) = run_with(vec![Ok(1), Ok(2), Ok(3)], true, 2);
        assert_eq!(calls, vec![vec![1, 2, 3]]);
        assert_eq!(out.write_errors[0].0, 1);
    }

    #[test]
    fn write_replies_have_mongod_shape() {
        let mut o = WriteOutcome {
            n: 2,
            n_modified: 1,
            ..Default::default()
        };
        o.upserted.push((1, Bson::Int32(7)));
        let r = render(o, true);
        assert_eq!(
            r,
            doc! {"n": 2, "upserted": [{"index": 1, "_id": 7}], "nModified": 1}
        );
        let d = with_id(doc! {"a": 1});
        assert_eq!(d.keys().next().unwrap(), "_id");
    }
}
