//! Aggregation expressions: field paths (`"$a.b"`), variables (`$$ROOT`, `$$CURRENT`,
//! `$$REMOVE`), literals, object and array expressions, and a set of common operators.
//!
//! Evaluation distinguishes "missing" (`None`) from null, because stages such as `$project`
//! and `$addFields` drop fields whose expression is missing.

use crate::compare::{cmp_bson, values_equal};
use crate::error::{CmdError, CmdResult};
use crate::matcher::type_name_of;
use crate::numeric;

mod fields;

use bson::{Bson, Document};
use std::cmp::Ordering;

/// Evaluates `expr` against `doc`; missing values come back as null.
pub fn eval(expr: &Bson, doc: &Document) -> CmdResult<Bson> {
    Ok(eval_opt(expr, doc)?.unwrap_or(Bson::Null))
}

/// Evaluates `expr` against `doc`; `None` when the result is missing.
pub fn eval_opt(expr: &Bson, doc: &Document) -> CmdResult<Option<Bson>> {
    match expr {
        Bson::String(s) if s.starts_with("$$") => variable(&s[2..], doc),
        Bson::String(s) if s.starts_with('$') => Ok(field_path(doc, &s[1..])),
        Bson::Array(items) => Ok(Some(Bson::Array(
            items
                .iter()
                .map(|e| eval(e, doc))
                .collect::<CmdResult<Vec<_>>>()?,
        ))),
        Bson::Document(d) => match d.keys().next() {
            Some(k) if k.starts_with('$') => {
                if d.len() != 1 {
                    return Err(CmdError::new(
                        15983,
                        "Location15983",
                        format!("an expression specification must contain exactly one field, the name of the expression. Found {} fields in {expr}", d.len()),
                    ));
                }
                operator(k, d.get(k).unwrap(), doc)
            }
            _ => {
                let mut out = Document::new();
                for (k, v) in d {
                    if let Some(val) = eval_opt(v, doc)? {
                        out.insert(k.clone(), val);
                    }
                }
                Ok(Some(Bson::Document(out)))
            }
        },
        other => Ok(Some(other.clone())),
    }
}

/// Truthiness as `$cond`/`$and`/`$expr` see it: false, null, missing, undefined and 0 are false.
pub fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        other => numeric::as_f64(other).is_none_or(|f| f != 0.0),
    }
}

fn variable(spec: &str, doc: &Document) -> CmdResult<Option<Bson>> {
    let (name, rest) = match spec.split_once('.') {
        Some((n, r)) => (n, Some(r)),
        None => (spec, None),
    };
    match name {
        "ROOT" | "CURRENT" => Ok(match rest {
            None => Some(Bson::Document(doc.clone())),
            Some(path) => field_path(doc, path),
        }),
        "REMOVE" => Ok(None),
        "NOW" => Ok(Some(Bson::DateTime(bson::DateTime::now()))),
        _ => Err(CmdError::new(
            17276,
            "Location17276",
            format!("Use of undefined variable: {name}"),
        )),
    }
}

/// `$a.b` semantics: through arrays, the path maps over elements (missing ones dropped).
pub fn field_path(doc: &Document, path: &str) -> Option<Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let first = doc.get(parts[0])?;
    walk(first, &parts[1..])
}

fn walk(v: &Bson, parts: &[&str]) -> Option<Bson> {
    if parts.is_empty() {
        return Some(v.clone());
    }
    match v {
        Bson::Document(d) => walk(d.get(parts[0])?, &parts[1..]),
        Bson::Array(items) => Some(Bson::Array(
            items
                .iter()
                .filter_map(|e| match e {
                    Bson::Document(_) | Bson::Array(_) => walk(e, parts),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    }
}

fn args(arg: &Bson, doc: &Document) -> CmdResult<Vec<Bson>> {
    match arg {
        Bson::Array(items) => items.iter().map(|e| eval(e, doc)).collect(),
        other => Ok(vec![eval(other, doc)?]),
    }
}

fn exact_args<const N: usize>(name: &str, arg: &Bson, doc: &Document) -> CmdResult<[Bson; N]> {
    let v = args(arg, doc)?;
    let n = v.len();
    v.try_into().map_err(|_| {
        CmdError::new(
            16020,
            "Location16020",
            format!("Expression {name} takes exactly {N} arguments. {n} were passed in."),
        )
    })
}

fn num_err(name: &str, v: &Bson) -> CmdError {
    CmdError::type_mismatch(format!(
        "{name} only supports numeric types, not {}",
        type_name_of(v)
    ))
}

fn operator(name: &str, arg: &Bson, doc: &Document) -> CmdResult<Option<Bson>> {
    let v = match name {
        "$literal" => arg.clone(),
        "$getField" | "$setField" | "$unsetField" => return fields::eval(name, arg, doc),
        "$add" | "$multiply" => {
            let items = args(arg, doc)?;
            let mut acc = if name == "$add" {
                Bson::Int32(0)
            } else {
                Bson::Int32(1)
            };
            for item in &items {
                if matches!(item, Bson::Null | Bson::Undefined) {
                    return Ok(Some(Bson::Null));
                }
                let next = match (name, &acc, item) {
                    ("$add", Bson::DateTime(d), n) | ("$add", n, Bson::DateTime(d))
                        if numeric::is_number(n) =>
                    {
                        Some(Bson::DateTime(bson::DateTime::from_millis(
                            d.timestamp_millis() + numeric::as_f64(n).unwrap() as i64,
                        )))
                    }
                    ("$add", _, _) => numeric::add(&acc, item),
                    _ => numeric::multiply(&acc, item),
                };
                acc = next.ok_or_else(|| num_err(name, item))?;
            }
            acc
        }
        "$subtract" => {
            let [a, b] = exact_args::<2>(name, arg, doc)?;
            if matches!(a, Bson::Null) || matches!(b, Bson::Null) {
                Bson::Null
            } else {
                numeric::subtract(&a, &b).ok_or_else(|| num_err(name, &a))?
            }
        }
        "$divide" => {
            let [a, b] = exact_args::<2>(name, arg, doc)?;
            match (numeric::as_f64(&a), numeric::as_f64(&b)) {
                (_, Some(0.0)) => return Err(CmdError::bad_value("can't $divide by zero")),
                (Some(x), Some(y)) => Bson::Double(x / y),
                _ if matches!(a, Bson::Null) || matches!(b, Bson::Null) => Bson::Null,
                _ => return Err(num_err(name, &a)),
            }
        }
        "$mod" => {
            let [a, b] = exact_args::<2>(name, arg, doc)?;
            match (&a, &b) {
                (Bson::Int32(x), Bson::Int32(y)) if *y != 0 => Bson::Int32(x.wrapping_rem(*y)),
                (Bson::Int64(_) | Bson::Int32(_), Bson::Int64(_) | Bson::Int32(_)) => {
                    let (x, y) = (
                        numeric::as_f64(&a).unwrap() as i64,
                        numeric::as_f64(&b).unwrap() as i64,
                    );
                    if y == 0 {
                        return Err(CmdError::bad_value("can't $mod by zero"));
                    }
                    Bson::Int64(x.wrapping_rem(y))
                }
                _ => match (numeric::as_f64(&a), numeric::as_f64(&b)) {
                    (Some(x), Some(y)) => Bson::Double(x % y),
                    _ => Bson::Null,
                },
            }
        }
        "$abs" => {
            let [a] = exact_args::<1>(name, arg, doc)?;
            match a {
                Bson::Int32(i) => Bson::Int32(i.wrapping_abs()),
                Bson::Int64(i) => Bson::Int64(i.wrapping_abs()),
                Bson::Double(d) => Bson::Double(d.abs()),
                Bson::Null => Bson::Null,
                other => return Err(num_err(name, &other)),
            }
        }
        "$concat" => {
            let mut s = String::new();
            for item in args(arg, doc)? {
                match item {
                    Bson::String(p) => s.push_str(&p),
                    Bson::Null | Bson::Undefined => return Ok(Some(Bson::Null)),
                    other => {
                        return Err(CmdError::new(
                            16702,
                            "Location16702",
                            format!(
                                "$concat only supports strings, not {}",
                                type_name_of(&other)
                            ),
                        ))
                    }
                }
            }
            Bson::String(s)
        }
        "$toLower" | "$toUpper" => {
            let [a] = exact_args::<1>(name, arg, doc)?;
            let s = match a {
                Bson::String(s) => s,
                Bson::Null => String::new(),
                other => other.to_string(),
            };
            Bson::String(if name == "$toLower" {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            })
        }
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            let [a, b] = exact_args::<2>(name, arg, doc)?;
            let o = cmp_bson(&a, &b);
            match name {
                "$eq" => Bson::Boolean(o == Ordering::Equal),
                "$ne" => Bson::Boolean(o != Ordering::Equal),
                "$gt" => Bson::Boolean(o == Ordering::Greater),
                "$gte" => Bson::Boolean(o != Ordering::Less),
                "$lt" => Bson::Boolean(o == Ordering::Less),
                "$lte" => Bson::Boolean(o != Ordering::Greater),
                _ => Bson::Int32(o as i32),
            }
        }
        "$and" => Bson::Boolean(args(arg, doc)?.iter().all(truthy)),
        "$or" => Bson::Boolean(args(arg, doc)?.iter().any(truthy)),
        "$not" => {
            let [a] = exact_args::<1>(name, arg, doc)?;
            Bson::Boolean(!truthy(&a))
        }
        "$cond" => {
            let (c, t, e) = match arg {
                Bson::Array(items) if items.len() == 3 => (&items[0], &items[1], &items[2]),
                Bson::Document(d) => match (d.get("if"), d.get("then"), d.get("else")) {
                    (Some(c), Some(t), Some(e)) => (c, t, e),
                    _ => return Err(CmdError::bad_value("$cond requires if, then and else")),
                },
                _ => return Err(CmdError::bad_value("$cond takes exactly 3 arguments")),
            };
            return if truthy(&eval(c, doc)?) {
                eval_opt(t, doc)
            } else {
                eval_opt(e, doc)
            };
        }
        "$ifNull" => {
            let Bson::Array(items) = arg else {
                return Err(CmdError::bad_value("$ifNull needs an array"));
            };
            for item in items {
                match eval_opt(item, doc)? {
                    None | Some(Bson::Null) | Some(Bson::Undefined) => continue,
                    Some(v) => return Ok(Some(v)),
                }
            }
            Bson::Null
        }
        "$in" => {
            let [x, arr] = exact_args::<2>(name, arg, doc)?;
            let Bson::Array(items) = arr else {
                return Err(CmdError::new(
                    40081,
                    "Location40081",
                    "$in requires an array as a second argument",
                ));
            };
            Bson::Boolean(items.iter().any(|e| values_equal(e, &x)))
        }
        "$size" => match exact_args::<1>(name, arg, doc)? {
            [Bson::Array(items)] => Bson::Int32(items.len() as i32),
            [other] => {
                return Err(CmdError::new(
                    17124,
                    "Location17124",
                    format!(
                        "The argument to $size must be an array. Type of argument is {}",
                        type_name_of(&other)
                    ),
                ))
            }
        },
        "$arrayElemAt" => {
            let [arr, idx] = exact_args::<2>(name, arg, doc)?;
            match (arr, numeric::as_f64(&idx)) {
                (Bson::Array(items), Some(i)) => {
                    let i = i as i64;
                    let pos = if i < 0 { items.len() as i64 + i } else { i };
                    match usize::try_from(pos).ok().and_then(|p| items.get(p)) {
                        Some(v) => v.clone(),
                        None => return Ok(None),
                    }
                }
                _ => Bson::Null,
            }
        }
        "$first" | "$last" => match exact_args::<1>(name, arg, doc)? {
            [Bson::Array(items)] => {
                let pick = if name == "$first" {
                    items.first()
                } else {
                    items.last()
                };
                match pick {
                    Some(v) => v.clone(),
                    None => return Ok(None),
                }
            }
            [other] => other,
        },
        "$isArray" => Bson::Boolean(matches!(exact_args::<1>(name, arg, doc)?, [Bson::Array(_)])),
        "$type" => match eval_opt(arg, doc)? {
            None => Bson::String("missing".into()),
            Some(v) => Bson::String(type_name_of(&v).into()),
        },
        "$concatArrays" => {
            let mut out = Vec::new();
            for item in args(arg, doc)? {
                match item {
                    Bson::Array(items) => out.extend(items),
                    Bson::Null => return Ok(Some(Bson::Null)),
                    other => {
                        return Err(CmdError::bad_value(format!(
                            "$concatArrays only supports arrays, not {}",
                            type_name_of(&other)
                        )))
                    }
                }
            }
            Bson::Array(out)
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let items = match arg {
                Bson::Array(_) => args(arg, doc)?,
                other => match eval(other, doc)? {
                    Bson::Array(items) => items,
                    v => vec![v],
                },
            };
            let mut acc = super::group::Accumulator::new(name)?;
            for item in items {
                acc.add(Some(item));
            }
            acc.finish()
        }
        "$toString" => match eval(arg, doc)? {
            Bson::String(s) => Bson::String(s),
            Bson::Null => Bson::Null,
            Bson::ObjectId(o) => Bson::String(o.to_hex()),
            other => Bson::String(other.to_string()),
        },
        _ => {
            return Err(CmdError::new(
                168,
                "InvalidPipelineOperator",
                format!("Unrecognized expression '{name}'"),
            ))
        }
    };
    Ok(Some(v))
}
