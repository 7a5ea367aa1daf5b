//! Update operators: validation (known operators, paths, conflicts) and application.

use super::arrays;
use super::describe::Record;
use super::ApplyMode;
use crate::compare::cmp_bson;
use crate::error::{code, CmdError, CmdResult};
use crate::numeric;
use crate::path::{array_index, get_path, get_path_mut, set_path, unset_path};
use bson::{Bson, Document};
use std::cmp::Ordering;

/// One update operator applied to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Set,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    SetOnInsert,
    CurrentDate,
    Push,
    AddToSet,
    Pop,
    Pull,
    PullAll,
    /// `$rename` source (removed).
    RenameFrom,
    /// `$rename` target; `arg` holds the source path.
    RenameTo,
}

fn kind_of(op: &str) -> Option<Kind> {
    Some(match op {
        "$set" => Kind::Set,
        "$unset" => Kind::Unset,
        "$inc" => Kind::Inc,
        "$mul" => Kind::Mul,
        "$min" => Kind::Min,
        "$max" => Kind::Max,
        "$setOnInsert" => Kind::SetOnInsert,
        "$currentDate" => Kind::CurrentDate,
        "$push" => Kind::Push,
        "$addToSet" => Kind::AddToSet,
        "$pop" => Kind::Pop,
        "$pull" => Kind::Pull,
        "$pullAll" => Kind::PullAll,
        "$rename" => Kind::RenameFrom,
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Op {
    path: String,
    kind: Kind,
    arg: Bson,
}

/// Checks an operator update: known operators, document arguments, valid and non-conflicting paths.
pub(super) fn validate(u: &Document) -> CmdResult<()> {
    collect_ops(u).map(|_| ())
}

fn collect_ops(u: &Document) -> CmdResult<Vec<Op>> {
    let mut ops = Vec::new();
    for (name, arg) in u {
        let Some(kind) = kind_of(name) else {
            return Err(CmdError::failed_to_parse(format!("Unknown modifier: {name}. Expected a valid update modifier or pipeline-style update specified as an array")));
        };
        let Bson::Document(fields) = arg else {
            return Err(CmdError::failed_to_parse(format!(
                "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{name}: {arg}}}",
                crate::matcher::type_name_of(arg)
            )));
        };
        for (path, value) in fields {
            validate_path(path)?;
            validate_arg(kind, path, value)?;
            if kind == Kind::RenameFrom {
                let Bson::String(to) = value else {
                    unreachable!("checked by validate_arg")
                };
                validate_path(to)?;
                ops.push(Op {
                    path: to.clone(),
                    kind: Kind::RenameTo,
                    arg: Bson::String(path.clone()),
                });
            }
            ops.push(Op {
                path: path.clone(),
                kind,
                arg: value.clone(),
            });
        }
    }
    check_conflicts(&ops)?;
    ops.sort_by(|a, b| cmp_paths(&a.path, &b.path));
    Ok(ops)
}

fn validate_path(path: &str) -> CmdResult<()> {
    if path.is_empty() {
        return Err(CmdError::new(
            56,
            "EmptyFieldName",
            "An empty update path is not valid.",
        ));
    }
    for part in path.split('.') {
        if part.is_empty() {
            return Err(CmdError::new(
                56,
                "EmptyFieldName",
                format!(
                    "The update path '{path}' contains an empty field name, which is not allowed."
                ),
            ));
        }
        if part == "$" || part.starts_with("$[") {
            return Err(CmdError::bad_value(
                "The positional operator did not find the match needed from the query.",
            ));
        }
    }
    Ok(())
}

fn validate_arg(kind: Kind, path: &str, v: &Bson) -> CmdResult<()> {
    match kind {
        Kind::Inc | Kind::Mul if !numeric::is_number(v) => {
            let verb = if kind == Kind::Inc { "increment" } else { "multiply" };
            Err(CmdError::type_mismatch(format!("Cannot {verb} with non-numeric argument: {{{path}: {v}}}")))
        }
        Kind::RenameFrom => match v {
            Bson::String(to) if to == path => Err(CmdError::bad_value(format!(
                "The source and target field for $rename must differ: {path}: \"{to}\""
            ))),
            Bson::String(to) if is_prefix(path, to) || is_prefix(to, path) => Err(CmdError::bad_value(
                format!("The source and target field for $rename must not be on the same path: {path}: \"{to}\""),
            )),
            Bson::String(_) => Ok(()),
            other => Err(CmdError::bad_value(format!("The 'to' field for $rename must be a string: {path}: {other}"))),
        },
        Kind::Pop => match numeric::as_f64(v) {
            Some(n) if n == 1.0 || n == -1.0 => Ok(()),
            _ => Err(CmdError::failed_to_parse(format!("$pop expects 1 or -1, found: {v}"))),
        },
        Kind::PullAll if !matches!(v, Bson::Array(_)) => Err(CmdError::bad_value(format!(
            "$pullAll requires an array argument but was given a {}",
            crate::matcher::type_name_of(v)
        ))),
        Kind::CurrentDate => match v {
            Bson::Boolean(_) => Ok(()),
            Bson::Document(d) if matches!(d.get_str("$type"), Ok("date" | "timestamp")) && d.len() == 1 => Ok(()),
            _ => Err(CmdError::bad_value(format!("{v} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}})."))),
        },
        Kind::Push | Kind::AddToSet => arrays::validate_each(kind == Kind::Push, v),
        _ => Ok(()),
    }
}

/// True when `a` equals `b` or is a proper prefix of it, component-wise.
fn is_prefix(a: &str, b: &str) -> bool {
    b == a || (b.starts_with(a) && b.as_bytes().get(a.len()) == Some(&b'.'))
}

fn check_conflicts(ops: &[Op]) -> CmdResult<()> {
    let mut sorted: Vec<&str> = ops.iter().map(|o| o.path.as_str()).collect();
    sorted.sort_unstable();
    // In byte order a prefix comes right before (or equal to) paths that extend it, though
    // "a.b" and "a.b.c" may be separated by "a.b-x"; compare every pair to stay exact.
    for (i, a) in sorted.iter().enumerate() {
        for b in &sorted[i + 1..] {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            if is_prefix(short, long) {
                return Err(CmdError::new(
                    code::CONFLICTING_UPDATE_OPERATORS,
                    "ConflictingUpdateOperators",
                    format!("Updating the path '{long}' would create a conflict at '{short}'"),
                ));
            }
        }
    }
    Ok(())
}

/// mongod 5.0+ order: component by component, numeric names numerically, others bytewise.
fn cmp_paths(a: &str, b: &str) -> Ordering {
    let mut pa = a.split('.');
    let mut pb = b.split('.');
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (array_index(x), array_index(y)) {
                    (Some(i), Some(j)) => i.cmp(&j).then_with(|| x.cmp(y)),
                    _ => x.as_bytes().cmp(y.as_bytes()),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// What one operator does at its path.
pub(super) enum Action {
    Set(Bson),
    Append(Vec<Bson>),
    Unset,
    Noop,
}

/// Applies every operator of `u` to a copy of `doc`, recording what was touched.
pub(super) fn apply_all(
    u: &Document,
    doc: &Document,
    mode: ApplyMode,
) -> CmdResult<(Document, Vec<Record>)> {
    let ops = collect_ops(u)?;
    let mut new = doc.clone();
    let mut records = Vec::new();
    for op in &ops {
        let parts: Vec<&str> = op.path.split('.').collect();
        let current = get_path(&new, &op.path).cloned();
        let action = action_for(op, current.as_ref(), doc, mode)?;
        if mode == ApplyMode::Update && matches!(action, Action::Set(_) | Action::Append(_)) {
            check_top_level_dollar(&new, &parts)?;
        }
        match action {
            Action::Noop => {}
            Action::Set(v) => {
                set_path(&mut new, &parts, v)?;
                records.push(Record::Set {
                    path: op.path.clone(),
                });
            }
            Action::Append(items) => {
                if let Some(Bson::Array(arr)) = get_path_mut(&mut new, &parts) {
                    let start = arr.len();
                    arr.extend(items);
                    records.push(Record::Append {
                        path: op.path.clone(),
                        start,
                    });
                }
            }
            Action::Unset => {
                if unset_path(&mut new, &parts) {
                    if get_path(&new, &op.path).is_some() {
                        // An array element is nulled, not removed.
                        records.push(Record::Set {
                            path: op.path.clone(),
                        });
                    } else {
                        records.push(Record::Removed {
                            path: op.path.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok((new, records))
}

/// An operator update of an existing document may not write a top-level field whose name
/// starts with `$` (52, mongod's storage validation of the element it writes), i.e. set one
/// or create one on the way to a deeper path. Below the top level `$` names are fine
/// (`{$set: {"a.$b": 1}}`), and an upsert's insert may create them (MongoDB 5.0+).
fn check_top_level_dollar(doc: &Document, parts: &[&str]) -> CmdResult<()> {
    let top = parts[0];
    if !top.starts_with('$') || (parts.len() > 1 && doc.contains_key(top)) {
        return Ok(());
    }
    Err(CmdError::new(
        code::DOLLAR_PREFIXED_FIELD_NAME,
        "DollarPrefixedFieldName",
        format!("The dollar ($) prefixed field '{top}' in '{top}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."),
    ))
}

/// `{_id: ...}` of the document, as mongod quotes it in error messages.
pub(super) fn id_desc(doc: &Document) -> String {
    match doc.get("_id") {
        Some(id) => format!("{{_id: {id}}}"),
        None => "{}".into(),
    }
}

fn action_for(
    op: &Op,
    current: Option<&Bson>,
    original: &Document,
    mode: ApplyMode,
) -> CmdResult<Action> {
    let arg = &op.arg;
    Ok(match op.kind {
        Kind::Set => Action::Set(arg.clone()),
        Kind::SetOnInsert if mode == ApplyMode::UpsertInsert => Action::Set(arg.clone()),
        Kind::SetOnInsert => Action::Noop,
        Kind::Unset | Kind::RenameFrom => {
            if op.kind == Kind::RenameFrom {
                check_rename_source(original, &op.path)?;
            }
            Action::Unset
        }
        Kind::RenameTo => {
            let Bson::String(from) = arg else {
                unreachable!()
            };
            match get_path(original, from) {
                Some(v) => {
                    check_rename_source(original, from)?;
                    Action::Set(v.clone())
                }
                None => Action::Noop,
            }
        }
        Kind::Inc | Kind::Mul => match current {
            None if op.kind == Kind::Inc => Action::Set(arg.clone()),
            None => Action::Set(numeric::zero_like(arg)),
            Some(cur) => {
                let result = if op.kind == Kind::Inc {
                    numeric::add(cur, arg)
                } else {
                    numeric::multiply(cur, arg)
                };
                match result {
                    Some(v) => Action::Set(v),
                    None => {
                        let verb = if op.kind == Kind::Inc { "$inc" } else { "$mul" };
                        return Err(CmdError::type_mismatch(format!(
                            "Cannot apply {verb} to a value of non-numeric type. {} has the field '{}' of non-numeric type {}",
                            id_desc(original),
                            op.path.rsplit('.').next().unwrap_or(&op.path),
                            crate::matcher::type_name_of(cur)
                        )));
                    }
                }
            }
        },
        Kind::Min | Kind::Max => match current {
            None => Action::Set(arg.clone()),
            Some(cur) => {
                let want = if op.kind == Kind::Min {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                if cmp_bson(arg, cur) == want {
                    Action::Set(arg.clone())
                } else {
                    Action::Noop
                }
            }
        },
        Kind::CurrentDate => {
            let now = chrono::Utc::now();
            let is_ts = matches!(arg, Bson::Document(d) if d.get_str("$type") == Ok("timestamp"));
            Action::Set(if is_ts {
                Bson::Timestamp(bson::Timestamp {
                    time: now.timestamp() as u32,
                    increment: 1,
                })
            } else {
                Bson::DateTime(bson::DateTime::from_millis(now.timestamp_millis()))
            })
        }
        Kind::Push => arrays::push(&op.path, current, arg, original)?,
        Kind::AddToSet => arrays::add_to_set(&op.path, current, arg, original)?,
        Kind::Pop => arrays::pop(&op.path, current, arg)?,
        Kind::Pull => arrays::pull(&op.path, current, arg)?,
        Kind::PullAll => arrays::pull_all(&op.path, current, arg)?,
    })
}

/// `$rename` cannot move an array element (mongod: "The source field cannot be an array element").
fn check_rename_source(doc: &Document, path: &str) -> CmdResult<()> {
    let parts: Vec<&str> = path.split('.').collect();
    for i in 1..parts.len() {
        if let Some(Bson::Array(_)) = get_path(doc, &parts[..i].join(".")) {
            return Err(CmdError::new(
                code::PATH_NOT_VIABLE,
                "PathNotViable",
                format!("The source field cannot be an array element, '{path}' in doc with {} has an array field called '{}'", id_desc(doc), parts[i - 1]),
            ));
        }
    }
    Ok(())
}
