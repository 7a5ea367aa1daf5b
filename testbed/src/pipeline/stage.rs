//! One aggregation stage: parsing (with mongod's error codes) and execution.

use super::add_fields;
use super::expr;
use super::group::Group;
use crate::collation::Collation;
use crate::error::{code, CmdError, CmdResult};
use crate::matcher::{type_name_of, Matcher};
use crate::projection::Projection;
use crate::sort::SortSpec;
use bson::{Bson, Document};

#[derive(Debug, Clone)]
pub(super) enum Stage {
    Match(Box<Matcher>, Document),
    Project(Projection),
    AddFields(add_fields::Fields),
    Group(Group),
    Sort(SortSpec),
    Limit(usize),
    Skip(usize),
    Count(String),
    ReplaceRoot(Bson),
}

fn positive(stage: &str, v: &Bson, allow_zero: bool) -> CmdResult<usize> {
    let n = match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    };
    match n {
        Some(n) if n > 0 || (allow_zero && n == 0) => Ok(n as usize),
        Some(n) => Err(CmdError::new(
            if stage == "$limit" { 15958 } else { 15956 },
            if stage == "$limit" {
                "Location15958"
            } else {
                "Location15956"
            },
            format!(
                "the {} must be {}, got {n}",
                &stage[1..],
                if allow_zero {
                    "non-negative"
                } else {
                    "positive"
                }
            ),
        )),
        None => Err(CmdError::new(
            if stage == "$limit" { 15957 } else { 15972 },
            if stage == "$limit" {
                "Location15957"
            } else {
                "Location15972"
            },
            format!("the {} must be specified as a number", &stage[1..]),
        )),
    }
}

fn need_doc<'a>(stage: &str, v: &'a Bson) -> CmdResult<&'a Document> {
    match v {
        Bson::Document(d) => Ok(d),
        other => Err(CmdError::failed_to_parse(format!(
            "{stage} specification must be an object, got {}",
            type_name_of(other)
        ))),
    }
}

impl Stage {
    pub(super) fn parse(spec: &Document, collation: Option<&Collation>) -> CmdResult<Stage> {
        if spec.len() != 1 {
            return Err(CmdError::new(
                40323,
                "Location40323",
                "A pipeline stage specification object must contain exactly one field.",
            ));
        }
        let (name, arg) = spec.iter().next().unwrap();
        Ok(match name.as_str() {
            "$match" => {
                let filter = need_doc(name, arg)?;
                Stage::Match(
                    Box::new(Matcher::with_collation(filter, collation)?),
                    filter.clone(),
                )
            }
            "$project" => {
                let d = need_doc(name, arg)?;
                if d.is_empty() {
                    return Err(CmdError::new(51272, "Location51272", "Invalid $project :: caused by :: projection specification must have at least one field"));
                }
                Stage::Project(Projection::new(d)?)
            }
            "$unset" => {
                let fields: Vec<&str> = match arg {
                    Bson::String(s) => vec![s.as_str()],
                    Bson::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().ok_or_else(|| CmdError::new(31120, "Location31120", "$unset specification must be a string or an array containing only string values")))
                        .collect::<CmdResult<_>>()?,
                    _ => return Err(CmdError::new(31002, "Location31002", "$unset specification must be a string or an array")),
                };
                let mut spec = Document::new();
                for f in fields {
                    spec.insert(f, 0);
                }
                Stage::Project(Projection::new(&spec)?)
            }
            "$addFields" | "$set" => {
                let d = need_doc(name, arg)?;
                Stage::AddFields(add_fields::parse(d)?)
            }
            "$group" => Stage::Group(Group::new(arg)?),
            "$sort" => {
                let d = need_doc(name, arg)?;
                if d.is_empty() {
                    return Err(CmdError::new(
                        15976,
                        "Location15976",
                        "$sort stage must have at least one sort key",
                    ));
                }
                Stage::Sort(SortSpec::new(d)?.with_collation(collation))
            }
            "$limit" => Stage::Limit(positive(name, arg, false)?),
            "$skip" => Stage::Skip(positive(name, arg, true)?),
            "$count" => match arg {
                Bson::String(s) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => {
                    Stage::Count(s.clone())
                }
                _ => {
                    return Err(CmdError::new(
                        40156,
                        "Location40156",
                        "the count field must be a non-empty string",
                    ))
                }
            },
            "$replaceRoot" => match need_doc(name, arg)?.get("newRoot") {
                Some(e) => Stage::ReplaceRoot(e.clone()),
                None => {
                    return Err(CmdError::new(
                        40231,
                        "Location40231",
                        "no newRoot specified for the $replaceRoot stage",
                    ))
                }
            },
            "$replaceWith" => Stage::ReplaceRoot(arg.clone()),
            _ => {
                return Err(CmdError::new(
                    40324,
                    "Location40324",
                    format!("Unrecognized pipeline stage name: '{name}'"),
                ))
            }
        })
    }

    pub(super) fn run(&self, docs: Vec<Document>) -> CmdResult<Vec<Document>> {
        Ok(match self {
            Stage::Group(g) => g.run(docs)?,
            Stage::Sort(s) => {
                let mut docs = docs;
                docs.sort_by(|a, b| s.compare(a, b));
                docs
            }
            Stage::Limit(n) => docs.into_iter().take(*n).collect(),
            Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
            Stage::Count(field) => {
                if docs.is_empty() {
                    Vec::new()
                } else {
                    let mut d = Document::new();
                    d.insert(field.clone(), Bson::Int32(docs.len() as i32));
                    vec![d]
                }
            }
            _ => {
                let mut out = Vec::with_capacity(docs.len());
                for doc in docs {
                    if let Some(d) = self.run_one(doc)? {
                        out.push(d);
                    }
                }
                out
            }
        })
    }

    /// Per-document stages; the others cannot run on a change event.
    pub(super) fn run_one(&self, doc: Document) -> CmdResult<Option<Document>> {
        Ok(match self {
            Stage::Match(m, _) => m.matches(&doc).then_some(doc),
            Stage::Project(p) => Some(p.apply(&doc)?),
            Stage::AddFields(fields) => Some(add_fields::apply(fields, doc)?),
            Stage::ReplaceRoot(e) => match expr::eval_opt(e, &doc)? {
                Some(Bson::Document(d)) => Some(d),
                other => {
                    let shown = other
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "MISSING".into());
                    return Err(CmdError::new(
                        40228,
                        "Location40228",
                        format!("'replacement document' must evaluate to an object, but resulting value was: {shown}. Type of resulting value: '{}'.", other_type(&shown)),
                    ));
                }
            },
            other => {
                return Err(CmdError::new(
                    code::ILLEGAL_OPERATION,
                    "IllegalOperation",
                    format!(
                        "{} is not permitted in a $changeStream pipeline",
                        other.name()
                    ),
                ))
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Stage::Match(..) => "$match",
            Stage::Project(_) => "$project",
            Stage::AddFields(_) => "$addFields",
            Stage::Group(_) => "$group",
            Stage::Sort(_) => "$sort",
            Stage::Limit(_) => "$limit",
            Stage::Skip(_) => "$skip",
            Stage::Count(_) => "$count",
            Stage::ReplaceRoot(_) => "$replaceRoot",
        }
    }
}

fn other_type(shown: &str) -> &'static str {
    if shown == "MISSING" {
        "missing"
    } else {
        "non-object"
    }
}
