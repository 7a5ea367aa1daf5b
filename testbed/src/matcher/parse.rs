//! Filter parsing: top-level logical operators, field conditions and their operators.

use super::Expr;
use crate::error::{CmdError, CmdResult};
use bson::{Bson, Document};
use regex::Regex;

/// A condition on the values at one path.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    /// Several operators on the same field (`{$gt: 1, $lt: 5}`), each evaluated independently.
    AllOf(Vec<Pred>),
    Eq(Bson),
    Gt(Bson),
    Gte(Bson),
    Lt(Bson),
    Lte(Bson),
    In(Vec<Bson>, Vec<Regex>),
    Exists(bool),
    Type(Vec<TypeSel>),
    Not(Box<Pred>),
    ElemMatchDoc(Box<Expr>),
    ElemMatchValue(Box<Pred>),
    Size(i64),
    /// `$all`: each listed condition must hold for some value.
    All(Vec<Pred>),
    Regex(Regex),
    Mod(i64, i64),
}

/// A `$type` selector: a BSON type number or `"number"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TypeSel {
    Code(i32),
    Number,
}

pub(super) fn parse_filter(filter: &Document) -> CmdResult<Expr> {
    let mut parts = Vec::new();
    for (k, v) in filter {
        match k.as_str() {
            "$and" | "$or" | "$nor" => {
                let subs = parse_logical(k, v)?;
                parts.push(match k.as_str() {
                    "$and" => Expr::And(subs),
                    "$or" => Expr::Or(subs),
                    _ => Expr::Nor(subs),
                });
            }
            "$comment" => {}
            "$expr" => parts.push(Expr::Aggregate(v.clone())),
            "$jsonSchema" => match v {
                Bson::Document(d) => parts.push(Expr::JsonSchema(Box::new(
                    super::json_schema::Schema::parse(d)?,
                ))),
                _ => return Err(CmdError::type_mismatch("$jsonSchema must be an object")),
            },
            _ if k.starts_with('$') => {
                return Err(CmdError::bad_value(format!("unknown top level operator: {k}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.")));
            }
            _ => parts.push(Expr::Field(k.clone(), parse_field_value(v)?)),
        }
    }
    Ok(if parts.len() == 1 {
        parts.pop().unwrap()
    } else {
        Expr::And(parts)
    })
}

fn parse_logical(op: &str, v: &Bson) -> CmdResult<Vec<Expr>> {
    let Bson::Array(items) = v else {
        return Err(CmdError::bad_value(format!("{op} must be an array")));
    };
    if items.is_empty() {
        return Err(CmdError::bad_value(
            "$and/$or/$nor must be a nonempty array",
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => parse_filter(d),
            _ => Err(CmdError::bad_value(
                "$or/$and/$nor entries need to be full objects",
            )),
        })
        .collect()
}

/// True when a document is an operator object (`{$gt: 1}`) rather than a literal to compare with.
fn is_operator_doc(d: &Document) -> bool {
    d.keys().next().is_some_and(|k| k.starts_with('$'))
}

/// The condition for `field: value`: implicit equality, a regex, or an operator object.
pub(super) fn parse_field_value(v: &Bson) -> CmdResult<Pred> {
    match v {
        Bson::RegularExpression(r) => Ok(Pred::Regex(compile_regex(&r.pattern, &r.options)?)),
        Bson::Document(d) if is_operator_doc(d) => parse_operators(d),
        other => Ok(Pred::Eq(other.clone())),
    }
}

/// A value-level condition as used by `$elemMatch` on scalars and `$pull`: an operator object
/// or a plain value to compare with.
pub(crate) fn parse_value_pred(v: &Bson) -> CmdResult<Pred> {
    parse_field_value(v)
}

fn parse_operators(d: &Document) -> CmdResult<Pred> {
    let mut preds = Vec::new();
    let options = d.get("$options");
    if options.is_some() && !d.contains_key("$regex") {
        return Err(CmdError::bad_value("$options needs a $regex"));
    }
    for (op, arg) in d {
        let pred = match op.as_str() {
            "$eq" => Pred::Eq(arg.clone()),
            "$ne" => Pred::Not(Box::new(Pred::Eq(arg.clone()))),
            "$gt" => Pred::Gt(arg.clone()),
            "$gte" => Pred::Gte(arg.clone()),
            "$lt" => Pred::Lt(arg.clone()),
            "$lte" => Pred::Lte(arg.clone()),
            "$in" => parse_in(op, arg)?,
            "$nin" => Pred::Not(Box::new(parse_in(op, arg)?)),
            "$exists" => Pred::Exists(truthy(arg)),
            "$type" => Pred::Type(parse_type(arg)?),
            "$not" => Pred::Not(Box::new(parse_not(arg)?)),
            "$elemMatch" => parse_elem_match(arg)?,
            "$size" => Pred::Size(parse_size(arg)?),
            "$all" => parse_all(arg)?,
            "$regex" => parse_regex_op(arg, options)?,
            "$options" => continue,
            "$mod" => parse_mod(arg)?,
            "$comment" => continue,
            _ => return Err(CmdError::bad_value(format!("unknown operator: {op}"))),
        };
        preds.push(pred);
    }
    Ok(if preds.len() == 1 {
        preds.pop().unwrap()
    } else {
        Pred::AllOf(preds)
    })
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        _ => true,
    }
}

fn parse_in(op: &str, arg: &Bson) -> CmdResult<Pred> {
    let Bson::Array(items) = arg else {
        return Err(CmdError::bad_value(format!("{op} needs an array")));
    };
    let mut values = Vec::new();
    let mut regexes = Vec::new();
    for item in items {
        match item {
            Bson::RegularExpression(r) => regexes.push(compile_regex(&r.pattern, &r.options)?),
            Bson::Document(d) if is_operator_doc(d) => {
                return Err(CmdError::bad_value("cannot nest $ under $in"));
            }
            other => values.push(other.clone()),
        }
    }
    Ok(Pred::In(values, regexes))
}

fn parse_not(arg: &Bson) -> CmdResult<Pred> {
    match arg {
        Bson::RegularExpression(r) => Ok(Pred::Regex(compile_regex(&r.pattern, &r.options)?)),
        Bson::Document(d) if !d.is_empty() && is_operator_doc(d) => parse_operators(d),
        Bson::Document(d) if d.is_empty() => Err(CmdError::bad_value("$not cannot be empty")),
        _ => Err(CmdError::bad_value("$not needs a regex or a document")),
    }
}

fn parse_elem_match(arg: &Bson) -> CmdResult<Pred> {
    let Bson::Document(d) = arg else {
        return Err(CmdError::bad_value("$elemMatch needs an Object"));
    };
    let value_form = d.keys().next().is_some_and(|k| {
        k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor" | "$expr" | "$where")
    });
    if value_form {
        Ok(Pred::ElemMatchValue(Box::new(parse_operators(d)?)))
    } else {
        Ok(Pred::ElemMatchDoc(Box::new(parse_filter(d)?)))
    }
}

fn parse_size(arg: &Bson) -> CmdResult<i64> {
    let n = match arg {
        Bson::Int32(i) => *i as i64,
        Bson::Int64(i) => *i,
        Bson::Double(d) if d.fract() == 0.0 => *d as i64,
        Bson::Double(_) => return Err(CmdError::bad_value("$size must be a whole number")),
        _ => return Err(CmdError::bad_value("$size needs a number")),
    };
    if n < 0 {
        return Err(CmdError::bad_value("$size may not be negative"));
    }
    Ok(n)
}

fn parse_all(arg: &Bson) -> CmdResult<Pred> {
    let Bson::Array(items) = arg else {
        return Err(CmdError::bad_value("$all needs an array"));
    };
    let preds = items
        .iter()
        .map(|item| match item {
            Bson::Document(d) if d.keys().next().is_some_and(|k| k == "$elemMatch") => {
                parse_elem_match(d.get("$elemMatch").unwrap())
            }
            Bson::RegularExpression(r) => Ok(Pred::Regex(compile_regex(&r.pattern, &r.options)?)),
            other => Ok(Pred::Eq(other.clone())),
        })
        .collect::<CmdResult<Vec<_>>>()?;
    Ok(Pred::All(preds))
}

fn parse_regex_op(arg: &Bson, options: Option<&Bson>) -> CmdResult<Pred> {
    let opts = match options {
        None => String::new(),
        Some(Bson::String(s)) => s.clone(),
        Some(_) => return Err(CmdError::bad_value("$options has to be a string")),
    };
    match arg {
        Bson::String(p) => Ok(Pred::Regex(compile_regex(p, &opts)?)),
        Bson::RegularExpression(r) => {
            let o = if opts.is_empty() {
                r.options.clone()
            } else {
                opts
            };
            Ok(Pred::Regex(compile_regex(&r.pattern, &o)?))
        }
        _ => Err(CmdError::bad_value("$regex has to be a string")),
    }
}

fn parse_mod(arg: &Bson) -> CmdResult<Pred> {
    let Bson::Array(items) = arg else {
        return Err(CmdError::bad_value("malformed mod, needs to be an array"));
    };
    if items.len() < 2 {
        return Err(CmdError::bad_value("malformed mod, not enough elements"));
    }
    if items.len() > 2 {
        return Err(CmdError::bad_value("malformed mod, too many elements"));
    }
    let num = |v: &Bson, what: &str| -> CmdResult<i64> {
        match v {
            Bson::Int32(i) => Ok(*i as i64),
            Bson::Int64(i) => Ok(*i),
            Bson::Double(d) if d.is_finite() => Ok(d.trunc() as i64),
            _ => Err(CmdError::bad_value(format!(
                "malformed mod, {what} not a number"
            ))),
        }
    };
    let divisor = num(&items[0], "divisor")?;
    let remainder = num(&items[1], "remainder")?;
    if divisor == 0 {
        return Err(CmdError::bad_value("divisor cannot be 0"));
    }
    Ok(Pred::Mod(divisor, remainder))
}

/// BSON type names accepted by `$type` with their numbers.
const TYPE_NAMES: &[(&str, i32)] = &[
    ("double", 1),
    ("string", 2),
    ("object", 3),
    ("array", 4),
    ("binData", 5),
    ("undefined", 6),
    ("objectId", 7),
    ("bool", 8),
    ("date", 9),
    ("null", 10),
    ("regex", 11),
    ("dbPointer", 12),
    ("javascript", 13),
    ("symbol", 14),
    ("javascriptWithScope", 15),
    ("int", 16),
    ("timestamp", 17),
    ("long", 18),
    ("decimal", 19),
    ("minKey", -1),
    ("maxKey", 127),
];

/// The number of a `$type` alias, for `$type` in queries and aggregation.
pub(crate) fn type_code_by_name(name: &str) -> Option<i32> {
    TYPE_NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// The `$type` alias of a value's BSON type (as the aggregation `$type` operator reports it).
pub(crate) fn type_name_of(v: &Bson) -> &'static str {
    let code = type_code(v);
    TYPE_NAMES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| *n)
        .unwrap_or("missing")
}

/// The BSON type number of a value (MinKey is -1 as in the docs).
pub(crate) fn type_code(v: &Bson) -> i32 {
    match v {
        Bson::MinKey => -1,
        other => other.element_type() as u8 as i32,
    }
}

fn parse_type(arg: &Bson) -> CmdResult<Vec<TypeSel>> {
    let one = |v: &Bson| -> CmdResult<TypeSel> {
        match v {
            Bson::String(s) if s == "number" => Ok(TypeSel::Number),
            Bson::String(s) => type_code_by_name(s)
                .map(TypeSel::Code)
                .ok_or_else(|| CmdError::bad_value(format!("Unknown type name alias: {s}"))),
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
                let n = match v {
                    Bson::Int32(i) => *i as i64,
                    Bson::Int64(i) => *i,
                    Bson::Double(d) => *d as i64,
                    _ => unreachable!(),
                };
                if TYPE_NAMES.iter().any(|(_, c)| *c as i64 == n) {
                    Ok(TypeSel::Code(n as i32))
                } else {
                    Err(CmdError::bad_value(format!(
                        "Invalid numerical type code: {n}"
                    )))
                }
            }
            _ => Err(CmdError::type_mismatch(
                "type must be represented as a number or a string",
            )),
        }
    };
    match arg {
        Bson::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// Compiles a MongoDB (PCRE-style) regex with its option letters into a `regex::Regex`.
pub(crate) fn compile_regex(pattern: &str, options: &str) -> CmdResult<Regex> {
    let mut flags = String::new();
    for c in options.chars() {
        match c {
            'i' | 'm' | 's' | 'x' => flags.push(c),
            'u' => {}
            _ => {
                return Err(CmdError::bad_value(format!(
                    "invalid flag in regex options: {c}"
                )))
            }
        }
    }
    let full = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    Regex::new(&full)
        .map_err(|e| CmdError::bad_value(format!("Regular expression is invalid: {e}")))
}

/// `_id` pinned by equality at the top level (directly or inside a top-level `$and`).
pub(super) fn id_equality(filter: &Document) -> Option<Bson> {
    for (k, v) in filter {
        if k == "_id" {
            return match v {
                Bson::Document(d) if is_operator_doc(d) => {
                    if d.len() == 1 {
                        d.get("$eq")
                            .filter(|v| !matches!(v, Bson::Array(_)))
                            .cloned()
                    } else {
                        None
                    }
                }
                Bson::RegularExpression(_) | Bson::Array(_) => None,
                other => Some(other.clone()),
            };
        }
        if k == "$and" {
            if let Bson::Array(items) = v {
                for item in items {
                    if let Some(found) = item.as_document().and_then(id_equality) {
                        return Some(found);
                    }
                }
            }
        }
    }
    None
}

/// `_id: {$in: [...]}` as the only condition on `_id` at the top level, without regexes
/// (which `$in` treats as patterns) or arrays.
pub(super) fn id_in(filter: &Document) -> Option<Vec<Bson>> {
    let Bson::Document(d) = filter.get("_id")? else {
        return None;
    };
    if d.len() != 1 {
        return None;
    }
    let Bson::Array(values) = d.get("$in")? else {
        return None;
    };
    if values
        .iter()
        .any(|v| matches!(v, Bson::RegularExpression(_) | Bson::Array(_)))
    {
        return None;
    }
    Some(values.clone())
}
