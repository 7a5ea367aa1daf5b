//! Filter evaluation with mongod's array semantics.

use super::parse::{type_code, Pred, TypeSel};
use super::Expr;
use crate::collation::Collation;
use crate::compare::{as_num, type_rank, values_equal, Num};
use crate::path::array_index;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// `c`: the collation strings compare with (`None`: binary).
pub(super) fn eval_expr(expr: &Expr, doc: &Document, c: Option<&Collation>) -> bool {
    match expr {
        Expr::And(xs) => xs.iter().all(|x| eval_expr(x, doc, c)),
        Expr::Or(xs) => xs.iter().any(|x| eval_expr(x, doc, c)),
        Expr::Nor(xs) => !xs.iter().any(|x| eval_expr(x, doc, c)),
        Expr::Field(path, pred) => {
            let parts: Vec<&str> = path.split('.').collect();
            let mut values = Vec::new();
            collect_doc(doc, &parts, &mut values);
            eval_pred(pred, &values, c)
        }
        Expr::JsonSchema(s) => s.matches_doc(doc),
        Expr::Aggregate(e) => crate::pipeline::expr::eval(e, doc)
            .map(|v| crate::pipeline::expr::truthy(&v))
            .unwrap_or(false),
    }
}

/// Every value a dotted path reaches, fanning out through arrays of documents (`None` = missing).
pub(crate) fn path_values<'a>(doc: &'a Document, path: &str) -> Vec<Option<&'a Bson>> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    collect_doc(doc, &parts, &mut out);
    out
}

fn collect_doc<'a>(doc: &'a Document, parts: &[&str], out: &mut Vec<Option<&'a Bson>>) {
    match doc.get(parts[0]) {
        Some(v) => collect(v, &parts[1..], out),
        None => out.push(None),
    }
}

fn collect<'a>(v: &'a Bson, parts: &[&str], out: &mut Vec<Option<&'a Bson>>) {
    if parts.is_empty() {
        out.push(Some(v));
        return;
    }
    match v {
        Bson::Document(d) => collect_doc(d, parts, out),
        Bson::Array(arr) => {
            let before = out.len();
            if let Some(elem) = array_index(parts[0]).and_then(|i| arr.get(i)) {
                collect(elem, &parts[1..], out);
            }
            for elem in arr {
                if let Bson::Document(d) = elem {
                    collect_doc(d, parts, out);
                }
            }
            if out.len() == before {
                out.push(None);
            }
        }
        _ => out.push(None),
    }
}

/// Evaluates a predicate over all values found at its path.
fn eval_pred(pred: &Pred, values: &[Option<&Bson>], c: Option<&Collation>) -> bool {
    match pred {
        Pred::AllOf(ps) => ps.iter().all(|p| eval_pred(p, values, c)),
        Pred::Not(p) => !eval_pred(p, values, c),
        Pred::Exists(want) => values.iter().any(Option::is_some) == *want,
        Pred::Size(n) => values
            .iter()
            .any(|v| matches!(v, Some(Bson::Array(a)) if a.len() as i64 == *n)),
        Pred::ElemMatchDoc(_) | Pred::ElemMatchValue(_) => values
            .iter()
            .flatten()
            .any(|v| matches!(v, Bson::Array(a) if a.iter().any(|e| elem_match(pred, e, c)))),
        Pred::All(ps) => !ps.is_empty() && ps.iter().all(|p| eval_pred(p, values, c)),
        Pred::Type(sels) => values.iter().flatten().any(|v| {
            type_matches(sels, v)
                || matches!(v, Bson::Array(a) if a.iter().any(|e| type_matches(sels, e)))
        }),
        _ => values.iter().any(|v| match v {
            None => matches_missing(pred),
            Some(v) => value_matches(pred, v, c),
        }),
    }
}

fn elem_match(pred: &Pred, elem: &Bson, c: Option<&Collation>) -> bool {
    match pred {
        Pred::ElemMatchDoc(expr) => match elem {
            Bson::Document(d) => eval_expr(expr, d, c),
            _ => false,
        },
        Pred::ElemMatchValue(p) => eval_pred(p, &[Some(elem)], c),
        _ => false,
    }
}

/// Whether a missing field satisfies a leaf predicate (null equality matches missing).
fn matches_missing(pred: &Pred) -> bool {
    match pred {
        Pred::Eq(Bson::Null) | Pred::Gte(Bson::Null) | Pred::Lte(Bson::Null) => true,
        Pred::In(vals, _) => vals.iter().any(|v| matches!(v, Bson::Null)),
        _ => false,
    }
}

/// A leaf predicate on one present value: tried on the value, then on each element of an array.
pub(crate) fn pred_matches_value(pred: &Pred, v: &Bson) -> bool {
    value_matches(pred, v, None)
}

fn value_matches(pred: &Pred, v: &Bson, c: Option<&Collation>) -> bool {
    if leaf(pred, v, c) {
        return true;
    }
    match v {
        Bson::Array(items) => items.iter().any(|e| leaf(pred, e, c)),
        _ => false,
    }
}

fn leaf(pred: &Pred, v: &Bson, c: Option<&Collation>) -> bool {
    match pred {
        Pred::Eq(x) => eq_leaf(x, v, c),
        Pred::Gt(x) => cmp_leaf(x, v, c, |o| o == Ordering::Greater),
        Pred::Gte(x) => cmp_leaf(x, v, c, |o| o != Ordering::Less),
        Pred::Lt(x) => cmp_leaf(x, v, c, |o| o == Ordering::Less),
        Pred::Lte(x) => cmp_leaf(x, v, c, |o| o != Ordering::Greater),
        Pred::In(vals, regexes) => {
            vals.iter().any(|x| eq_leaf(x, v, c)) || regexes.iter().any(|r| regex_leaf(r, v))
        }
        Pred::Regex(r) => regex_leaf(r, v),
        Pred::Mod(d, r) => match as_num(v) {
            Some(Num::Int(i)) => i.wrapping_rem(*d) == *r,
            Some(Num::Float(f)) if f.is_finite() => (f.trunc() as i64).wrapping_rem(*d) == *r,
            _ => false,
        },
        // Field-level operators evaluated by `eval_pred` (used here via `$elemMatch` values).
        other => eval_pred(other, &[Some(v)], c),
    }
}

fn eq_leaf(x: &Bson, v: &Bson, c: Option<&Collation>) -> bool {
    if matches!(x, Bson::Null) {
        return matches!(v, Bson::Null | Bson::Undefined);
    }
    type_rank(x) == type_rank(v)
        && match c {
            Some(c) => c.cmp(x, v) == Ordering::Equal,
            None => values_equal(x, v),
        }
}

/// Ordering operators only compare values of the same canonical type (type bracketing),
/// except that MinKey/MaxKey operands compare with everything.
fn cmp_leaf(x: &Bson, v: &Bson, c: Option<&Collation>, ok: impl Fn(Ordering) -> bool) -> bool {
    let bracketed = matches!(x, Bson::MinKey | Bson::MaxKey) || type_rank(x) == type_rank(v);
    if !bracketed {
        return false;
    }
    if let (Some(Num::Float(a)), Some(Num::Float(b))) = (as_num(x), as_num(v)) {
        if a.is_nan() || b.is_nan() {
            // NaN only equals NaN for $gte/$lte; it is neither greater nor less than anything.
            return a.is_nan() && b.is_nan() && ok(Ordering::Equal);
        }
    }
    ok(crate::collation::cmp_with(c, v, x))
}

fn regex_leaf(r: &regex::Regex, v: &Bson) -> bool {
    match v {
        Bson::String(s) | Bson::Symbol(s) => r.is_match(s),
        Bson::RegularExpression(re) => {
            let (pat, flags) = split_inline_flags(r.as_str());
            re.pattern == pat && sorted(&re.options) == sorted(flags)
        }
        _ => false,
    }
}

fn split_inline_flags(s: &str) -> (&str, &str) {
    if let Some(rest) = s.strip_prefix("(?") {
        if let Some(end) = rest.find(')') {
            let flags = &rest[..end];
            if flags.chars().all(|c| "imsx".contains(c)) {
                return (&rest[end + 1..], flags);
            }
        }
    }
    (s, "")
}

fn sorted(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c.sort_unstable();
    c.into_iter().collect()
}

fn type_matches(sels: &[TypeSel], v: &Bson) -> bool {
    sels.iter().any(|s| match s {
        TypeSel::Number => as_num(v).is_some(),
        TypeSel::Code(c) => type_code(v) == *c,
    })
}
