//! `$group`: grouping by an `_id` expression and the accumulators (`$sum $avg $min $max
//! $first $last $push $addToSet $count`), also used by the `$sum`/`$avg`/`$min`/`$max` expressions.

use super::expr;
use crate::compare::{cmp_bson, values_equal};
use crate::error::{CmdError, CmdResult};
use crate::numeric;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// Running state of one accumulator.
#[derive(Debug, Clone)]
pub(crate) enum Accumulator {
    Sum(Bson),
    Avg { sum: f64, count: u64 },
    Min(Option<Bson>),
    Max(Option<Bson>),
    First(Option<Bson>),
    Last(Option<Bson>),
    Push(Vec<Bson>),
    AddToSet(Vec<Bson>),
}

impl Accumulator {
    pub(crate) fn new(op: &str) -> CmdResult<Self> {
        Ok(match op {
            "$sum" | "$count" => Accumulator::Sum(Bson::Int32(0)),
            "$avg" => Accumulator::Avg { sum: 0.0, count: 0 },
            "$min" => Accumulator::Min(None),
            "$max" => Accumulator::Max(None),
            "$first" => Accumulator::First(None),
            "$last" => Accumulator::Last(None),
            "$push" => Accumulator::Push(Vec::new()),
            "$addToSet" => Accumulator::AddToSet(Vec::new()),
            _ => {
                return Err(CmdError::new(
                    15952,
                    "Location15952",
                    format!("unknown group operator '{op}'"),
                ))
            }
        })
    }

    /// Feeds one value (`None` = the expression was missing for this document).
    pub(crate) fn add(&mut self, v: Option<Bson>) {
        match self {
            Accumulator::Sum(acc) => {
                if let Some(sum) = v.as_ref().and_then(|v| numeric::add(acc, v)) {
                    *acc = sum;
                }
            }
            Accumulator::Avg { sum, count } => {
                if let Some(f) = v.as_ref().and_then(numeric::as_f64) {
                    *sum += f;
                    *count += 1;
                }
            }
            Accumulator::Min(best) => keep_extreme(best, v, Ordering::Less),
            Accumulator::Max(best) => keep_extreme(best, v, Ordering::Greater),
            Accumulator::First(first) => {
                if first.is_none() {
                    *first = Some(v.unwrap_or(Bson::Null));
                }
            }
            Accumulator::Last(last) => *last = Some(v.unwrap_or(Bson::Null)),
            Accumulator::Push(items) => items.extend(v),
            Accumulator::AddToSet(items) => {
                if let Some(v) = v {
                    if !items.iter().any(|e| values_equal(e, &v)) {
                        items.push(v);
                    }
                }
            }
        }
    }

    /// The final value of the accumulator.
    pub(crate) fn finish(self) -> Bson {
        match self {
            Accumulator::Sum(v) => v,
            Accumulator::Avg { count: 0, .. } => Bson::Null,
            Accumulator::Avg { sum, count } => Bson::Double(sum / count as f64),
            Accumulator::Min(v)
            | Accumulator::Max(v)
            | Accumulator::First(v)
            | Accumulator::Last(v) => v.unwrap_or(Bson::Null),
            Accumulator::Push(items) | Accumulator::AddToSet(items) => Bson::Array(items),
        }
    }
}

/// `$min`/`$max` ignore null and missing values.
fn keep_extreme(best: &mut Option<Bson>, v: Option<Bson>, want: Ordering) {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => {}
        Some(v) => {
            if best.as_ref().is_none_or(|b| cmp_bson(&v, b) == want) {
                *best = Some(v);
            }
        }
    }
}

/// A parsed `$group` stage.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    id: Bson,
    fields: Vec<(String, String, Bson)>,
}

impl Group {
    pub(crate) fn new(spec: &Bson) -> CmdResult<Self> {
        let Bson::Document(spec) = spec else {
            return Err(CmdError::new(
                15947,
                "Location15947",
                "a group's fields must be specified in an object",
            ));
        };
        let Some(id) = spec.get("_id") else {
            return Err(CmdError::new(
                15955,
                "Location15955",
                "a group specification must include an _id",
            ));
        };
        let mut fields = Vec::new();
        for (name, acc) in spec {
            if name == "_id" {
                continue;
            }
            let Bson::Document(acc) = acc else {
                return Err(CmdError::new(
                    40234,
                    "Location40234",
                    format!("The field '{name}' must be an accumulator object"),
                ));
            };
            if acc.len() != 1 {
                return Err(CmdError::new(
                    40238,
                    "Location40238",
                    format!("The field '{name}' must specify one accumulator"),
                ));
            }
            let (op, arg) = acc.iter().next().unwrap();
            Accumulator::new(op)?;
            let arg = if op == "$count" {
                Bson::Int32(1)
            } else {
                arg.clone()
            };
            fields.push((name.clone(), op.clone(), arg));
        }
        Ok(Group {
            id: id.clone(),
            fields,
        })
    }

    /// Groups `input` in order of first appearance of each key.
    pub(crate) fn run(&self, input: Vec<Document>) -> CmdResult<Vec<Document>> {
        let mut groups: Vec<(Bson, Vec<Accumulator>)> = Vec::new();
        for doc in &input {
            let key = expr::eval(&self.id, doc)?;
            let idx = match groups.iter().position(|(k, _)| values_equal(k, &key)) {
                Some(i) => i,
                None => {
                    let accs = self
                        .fields
                        .iter()
                        .map(|(_, op, _)| Accumulator::new(op))
                        .collect::<CmdResult<Vec<_>>>()?;
                    groups.push((key, accs));
                    groups.len() - 1
                }
            };
            for ((_, _, arg), acc) in self.fields.iter().zip(groups[idx].1.iter_mut()) {
                acc.add(expr::eval_opt(arg, doc)?);
            }
        }
        Ok(groups
            .into_iter()
            .map(|(key, accs)| {
                let mut out = Document::new();
                out.insert("_id", key);
                for ((name, _, _), acc) in self.fields.iter().zip(accs) {
                    out.insert(name.clone(), acc.finish());
                }
                out
            })
            .collect())
    }
}
