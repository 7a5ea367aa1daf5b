//! Array update operators: `$push` (with `$each $position $sort $slice`), `$addToSet`, `$pop`,
//! `$pull`, `$pullAll`.

use super::ops::{id_desc, Action};
use crate::compare::{cmp_bson, values_equal};
use crate::error::{CmdError, CmdResult};
use crate::matcher::{parse_value_pred, pred_matches_value, type_name_of, Matcher};
use crate::numeric;
use crate::sort::SortSpec;
use bson::{Bson, Document};

/// `$push` modifiers after validation.
struct PushSpec {
    each: Vec<Bson>,
    position: Option<i64>,
    slice: Option<i64>,
    sort: Option<ElemSort>,
}

enum ElemSort {
    Value(bool),
    Fields(SortSpec),
}

/// The `{$each: [...], ...}` form of `$push`/`$addToSet` (first key `$each`).
fn each_form(v: &Bson) -> Option<&Document> {
    match v {
        Bson::Document(d) if d.contains_key("$each") => Some(d),
        _ => None,
    }
}

fn int_arg(name: &str, v: &Bson) -> CmdResult<i64> {
    match v {
        Bson::Int32(i) => Ok(*i as i64),
        Bson::Int64(i) => Ok(*i),
        Bson::Double(d) if d.fract() == 0.0 => Ok(*d as i64),
        _ => Err(CmdError::bad_value(format!(
            "The value for {name} must be an integer value but was given type: {}",
            type_name_of(v)
        ))),
    }
}

fn parse_push(v: &Bson, is_push: bool) -> CmdResult<PushSpec> {
    let Some(d) = each_form(v) else {
        return Ok(PushSpec {
            each: vec![v.clone()],
            position: None,
            slice: None,
            sort: None,
        });
    };
    let op = if is_push { "$push" } else { "$addToSet" };
    let each = match d.get("$each") {
        Some(Bson::Array(a)) => a.clone(),
        Some(other) => {
            return Err(CmdError::bad_value(format!(
                "The argument to $each in {op} must be an array but it was of type: {}",
                type_name_of(other)
            )))
        }
        None => unreachable!(),
    };
    let mut spec = PushSpec {
        each,
        position: None,
        slice: None,
        sort: None,
    };
    for (k, arg) in d {
        match (k.as_str(), is_push) {
            ("$each", _) => {}
            ("$position", true) => spec.position = Some(int_arg("$position", arg)?),
            ("$slice", true) => spec.slice = Some(int_arg("$slice", arg)?),
            ("$sort", true) => spec.sort = Some(parse_elem_sort(arg)?),
            _ => {
                return Err(CmdError::bad_value(format!(
                    "Found unexpected fields after $each in {op}: {v}"
                )))
            }
        }
    }
    Ok(spec)
}

fn parse_elem_sort(v: &Bson) -> CmdResult<ElemSort> {
    match v {
        Bson::Document(d) => Ok(ElemSort::Fields(SortSpec::new(d)?)),
        other => match numeric::as_f64(other) {
            Some(1.0) => Ok(ElemSort::Value(true)),
            Some(-1.0) => Ok(ElemSort::Value(false)),
            _ => Err(CmdError::bad_value(
                "The $sort element value must be either 1 or -1",
            )),
        },
    }
}

/// Validates `$push`/`$addToSet` arguments at parse time.
pub(super) fn validate_each(is_push: bool, v: &Bson) -> CmdResult<()> {
    parse_push(v, is_push).map(|_| ())
}

fn not_array(op: &str, path: &str, cur: &Bson, doc: &Document) -> CmdError {
    let field = path.rsplit('.').next().unwrap_or(path);
    let msg = if op == "$push" {
        format!(
            "The field '{field}' must be an array but is of type {} in document {}",
            type_name_of(cur),
            id_desc(doc)
        )
    } else {
        format!(
            "Cannot apply $addToSet to non-array field. Field named '{field}' has non-array type {}",
            type_name_of(cur)
        )
    };
    CmdError::bad_value(msg)
}

pub(super) fn push(
    path: &str,
    current: Option<&Bson>,
    arg: &Bson,
    doc: &Document,
) -> CmdResult<Action> {
    let spec = parse_push(arg, true)?;
    let existing = match current {
        None => Vec::new(),
        Some(Bson::Array(a)) => a.clone(),
        Some(other) => return Err(not_array("$push", path, other, doc)),
    };
    let plain_append = spec.sort.is_none()
        && spec.slice.is_none()
        && spec.position.is_none_or(|p| p >= existing.len() as i64);
    if plain_append && current.is_some() {
        return Ok(Action::Append(spec.each));
    }
    let mut arr = existing;
    let len = arr.len() as i64;
    let pos = match spec.position {
        None => len,
        Some(p) if p < 0 => (len + p).max(0),
        Some(p) => p.min(len),
    } as usize;
    arr.splice(pos..pos, spec.each);
    match &spec.sort {
        Some(ElemSort::Value(asc)) => arr.sort_by(|a, b| {
            let o = cmp_bson(a, b);
            if *asc {
                o
            } else {
                o.reverse()
            }
        }),
        Some(ElemSort::Fields(s)) => arr.sort_by(|a, b| match (a, b) {
            (Bson::Document(x), Bson::Document(y)) => s.compare(x, y),
            _ => cmp_bson(a, b),
        }),
        None => {}
    }
    if let Some(n) = spec.slice {
        if n >= 0 {
            arr.truncate(n as usize);
        } else {
            let keep = n.unsigned_abs() as usize;
            if arr.len() > keep {
                arr.drain(..arr.len() - keep);
            }
        }
    }
    Ok(Action::Set(Bson::Array(arr)))
}

pub(super) fn add_to_set(
    path: &str,
    current: Option<&Bson>,
    arg: &Bson,
    doc: &Document,
) -> CmdResult<Action> {
    let spec = parse_push(arg, false)?;
    let mut fresh: Vec<Bson> = Vec::new();
    let existing: &[Bson] = match current {
        None => &[],
        Some(Bson::Array(a)) => a,
        Some(other) => return Err(not_array("$addToSet", path, other, doc)),
    };
    for v in spec.each {
        if !existing
            .iter()
            .chain(fresh.iter())
            .any(|e| values_equal(e, &v))
        {
            fresh.push(v);
        }
    }
    Ok(match current {
        None => Action::Set(Bson::Array(fresh)),
        Some(_) if fresh.is_empty() => Action::Noop,
        Some(_) => Action::Append(fresh),
    })
}

fn existing_array<'a>(
    op: &str,
    path: &str,
    current: Option<&'a Bson>,
) -> CmdResult<Option<&'a Vec<Bson>>> {
    match current {
        None => Ok(None),
        Some(Bson::Array(a)) => Ok(Some(a)),
        Some(other) if op == "$pop" => Err(CmdError::type_mismatch(format!(
            "Path '{path}' contains an element of non-array type '{}'",
            type_name_of(other)
        ))),
        Some(_) => Err(CmdError::bad_value(format!(
            "Cannot apply {op} to a non-array value"
        ))),
    }
}

pub(super) fn pop(path: &str, current: Option<&Bson>, arg: &Bson) -> CmdResult<Action> {
    let Some(arr) = existing_array("$pop", path, current)? else {
        return Ok(Action::Noop);
    };
    if arr.is_empty() {
        return Ok(Action::Noop);
    }
    let mut arr = arr.clone();
    if numeric::as_f64(arg) == Some(-1.0) {
        arr.remove(0);
    } else {
        arr.pop();
    }
    Ok(Action::Set(Bson::Array(arr)))
}

/// How `$pull` decides which elements go.
enum PullCond {
    Value(crate::matcher::Pred),
    Query(Matcher),
    Equal(Bson),
}

pub(super) fn pull(path: &str, current: Option<&Bson>, arg: &Bson) -> CmdResult<Action> {
    let cond = match arg {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            PullCond::Value(parse_value_pred(arg)?)
        }
        Bson::Document(d) => PullCond::Query(Matcher::new(d)?),
        Bson::RegularExpression(_) => PullCond::Value(parse_value_pred(arg)?),
        other => PullCond::Equal(other.clone()),
    };
    let Some(arr) = existing_array("$pull", path, current)? else {
        return Ok(Action::Noop);
    };
    let keep: Vec<Bson> = arr
        .iter()
        .filter(|e| match &cond {
            PullCond::Value(p) => !pred_matches_value(p, e),
            PullCond::Query(m) => !matches!(e, Bson::Document(d) if m.matches(d)),
            PullCond::Equal(v) => !values_equal(e, v),
        })
        .cloned()
        .collect();
    Ok(shrunk(arr, keep))
}

pub(super) fn pull_all(path: &str, current: Option<&Bson>, arg: &Bson) -> CmdResult<Action> {
    let Bson::Array(values) = arg else {
        unreachable!("checked at parse")
    };
    let Some(arr) = existing_array("$pullAll", path, current)? else {
        return Ok(Action::Noop);
    };
    let keep: Vec<Bson> = arr
        .iter()
        .filter(|e| !values.iter().any(|v| values_equal(e, v)))
        .cloned()
        .collect();
    Ok(shrunk(arr, keep))
}

fn shrunk(old: &[Bson], keep: Vec<Bson>) -> Action {
    if keep.len() == old.len() {
        Action::Noop
    } else {
        Action::Set(Bson::Array(keep))
    }
}
