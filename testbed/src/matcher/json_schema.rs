//! `$jsonSchema` (query operator and validators): the documented keywords `bsonType`, `type`,
//! `required`, `properties`, `minimum`/`maximum` (with `exclusiveMinimum`/`exclusiveMaximum`),
//! `minLength`/`maxLength`, `enum`, `items`, `additionalItems`, `additionalProperties`,
//! `patternProperties`, `pattern`, `minItems`/`maxItems`, `minProperties`/`maxProperties`,
//! `uniqueItems`, `multipleOf`, `allOf`/`anyOf`/`oneOf`/`not`, and `title`/`description`.
//!
//! As on mongod, each keyword constrains only values of its type (`minimum` ignores strings,
//! `properties` ignores non-objects), and keywords mongod does not support (`$ref`, `format`,
//! `default`, `definitions`, `id`, `$schema`, `type: "integer"`) are refused (FailedToParse).

use super::parse::{compile_regex, type_code_by_name};
use crate::compare::{as_num, Num};
use crate::error::{CmdError, CmdResult};
use bson::{Bson, Document};
use regex::Regex;
use std::collections::BTreeMap;

/// A parsed schema.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    /// Allowed BSON types (`bsonType`, `type` mapped to BSON types); empty: any.
    types: Vec<TypeSel>,
    required: Vec<String>,
    properties: BTreeMap<String, Schema>,
    /// Field order of `properties` (for error details).
    property_order: Vec<String>,
    pattern_properties: Vec<(Regex, Schema)>,
    additional: Option<Additional>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    multiple_of: Option<f64>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Regex>,
    enumeration: Option<Vec<Bson>>,
    items: Option<Items>,
    additional_items: Option<Additional>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    unique_items: bool,
    min_properties: Option<usize>,
    max_properties: Option<usize>,
    all_of: Vec<Schema>,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    not: Option<Box<Schema>>,
    /// The schema document as given (error details quote it).
    source: Document,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TypeSel {
    Code(i32),
    Number,
}

#[derive(Debug, Clone)]
enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

#[derive(Debug, Clone)]
enum Items {
    All(Box<Schema>),
    Tuple(Vec<Schema>),
}

fn bad(msg: impl Into<String>) -> CmdError {
    CmdError::failed_to_parse(msg)
}

fn count(key: &str, v: &Bson) -> CmdResult<usize> {
    let n = match v {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => *i,
        Bson::Double(d) if d.fract() == 0.0 => *d as i64,
        _ => {
            return Err(bad(format!(
                "$jsonSchema keyword '{key}' must be a representable integer"
            )))
        }
    };
    usize::try_from(n).map_err(|_| bad(format!("$jsonSchema keyword '{key}' must be non-negative")))
}

fn number(key: &str, v: &Bson) -> CmdResult<f64> {
    match as_num(v) {
        Some(Num::Int(i)) => Ok(i as f64),
        Some(Num::Float(f)) => Ok(f),
        None => Err(bad(format!("$jsonSchema keyword '{key}' must be a number"))),
    }
}

fn flag(key: &str, v: &Bson) -> CmdResult<bool> {
    v.as_bool()
        .ok_or_else(|| bad(format!("$jsonSchema keyword '{key}' must be a boolean")))
}

fn sub(key: &str, v: &Bson) -> CmdResult<Schema> {
    match v {
        Bson::Document(d) => Schema::parse(d),
        _ => Err(CmdError::type_mismatch(format!(
            "$jsonSchema keyword '{key}' must be an object"
        ))),
    }
}

fn subs(key: &str, v: &Bson) -> CmdResult<Vec<Schema>> {
    match v {
        Bson::Array(a) if !a.is_empty() => a.iter().map(|s| sub(key, s)).collect(),
        _ => Err(bad(format!(
            "$jsonSchema keyword '{key}' must be a non-empty array"
        ))),
    }
}

fn additional(key: &str, v: &Bson) -> CmdResult<Additional> {
    match v {
        Bson::Boolean(b) => Ok(Additional::Allowed(*b)),
        Bson::Document(d) => Ok(Additional::Schema(Box::new(Schema::parse(d)?))),
        _ => Err(CmdError::type_mismatch(format!(
            "$jsonSchema keyword '{key}' must be either an object or a boolean"
        ))),
    }
}

/// JSON Schema `type` names as BSON types (`number` is every numeric type).
fn json_type(name: &str) -> CmdResult<TypeSel> {
    Ok(match name {
        "object" => TypeSel::Code(3),
        "array" => TypeSel::Code(4),
        "string" => TypeSel::Code(2),
        "boolean" => TypeSel::Code(8),
        "null" => TypeSel::Code(10),
        "number" => TypeSel::Number,
        "integer" => {
            return Err(bad(
                "$jsonSchema type 'integer' is not currently supported.",
            ))
        }
        other => return Err(bad(format!("Unknown type name alias: {other}"))),
    })
}

fn bson_type(name: &str) -> CmdResult<TypeSel> {
    match name {
        "number" => Ok(TypeSel::Number),
        _ => type_code_by_name(name)
            .map(TypeSel::Code)
            .ok_or_else(|| CmdError::bad_value(format!("Unknown type name alias: {name}"))),
    }
}

fn types(key: &str, v: &Bson, one: fn(&str) -> CmdResult<TypeSel>) -> CmdResult<Vec<TypeSel>> {
    match v {
        Bson::String(s) => Ok(vec![one(s)?]),
        Bson::Array(a) if !a.is_empty() => a
            .iter()
            .map(|t| match t {
                Bson::String(s) => one(s),
                _ => Err(CmdError::type_mismatch(format!(
                    "$jsonSchema keyword '{key}' array elements must be strings"
                ))),
            })
            .collect(),
        _ => Err(CmdError::type_mismatch(format!(
            "$jsonSchema keyword '{key}' must be either a string or an array of strings"
        ))),
    }
}

/// Keywords mongod parses but refuses.
const UNSUPPORTED: &[&str] = &["$ref", "$schema", "default", "definitions", "format", "id"];

impl Schema {
    pub(crate) fn parse(d: &Document) -> CmdResult<Schema> {
        if d.contains_key("bsonType") && d.contains_key("type") {
            return Err(bad(
                "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'",
            ));
        }
        let mut s = Schema {
            source: d.clone(),
            ..Schema::default()
        };
        for (k, v) in d {
            match k.as_str() {
                "bsonType" => s.types = types(k, v, bson_type)?,
                "type" => s.types = types(k, v, json_type)?,
                "required" => {
                    let Bson::Array(a) = v else {
                        return Err(CmdError::type_mismatch(
                            "$jsonSchema keyword 'required' must be an array",
                        ));
                    };
                    for f in a {
                        let f = f.as_str().ok_or_else(|| {
                            CmdError::type_mismatch(
                                "$jsonSchema keyword 'required' must contain only strings",
                            )
                        })?;
                        s.required.push(f.to_string());
                    }
                }
                "properties" => {
                    let Bson::Document(props) = v else {
                        return Err(CmdError::type_mismatch(
                            "$jsonSchema keyword 'properties' must be an object",
                        ));
                    };
                    for (name, p) in props {
                        s.properties.insert(name.clone(), sub(k, p)?);
                        s.property_order.push(name.clone());
                    }
                }
                "patternProperties" => {
                    let Bson::Document(props) = v else {
                        return Err(CmdError::type_mismatch(
                            "$jsonSchema keyword 'patternProperties' must be an object",
                        ));
                    };
                    for (re, p) in props {
                        s.pattern_properties
                            .push((compile_regex(re, "")?, sub(k, p)?));
                    }
                }
                "additionalProperties" => s.additional = Some(additional(k, v)?),
                "minimum" => s.minimum = Some((number(k, v)?, false)),
                "maximum" => s.maximum = Some((number(k, v)?, false)),
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    flag(k, v)?;
                }
                "multipleOf" => {
                    let m = number(k, v)?;
                    if m <= 0.0 {
                        return Err(bad(
                            "$jsonSchema keyword 'multipleOf' must have a positive value",
                        ));
                    }
                    s.multiple_of = Some(m);
                }
                "minLength" => s.min_length = Some(count(k, v)?),
                "maxLength" => s.max_length = Some(count(k, v)?),
                "pattern" => {
                    let p = v.as_str().ok_or_else(|| {
                        CmdError::type_mismatch("$jsonSchema keyword 'pattern' must be a string")
                    })?;
                    s.pattern = Some(compile_regex(p, "")?);
                }
                "enum" => match v {
                    Bson::Array(a) if !a.is_empty() => s.enumeration = Some(a.clone()),
                    _ => return Err(bad("$jsonSchema keyword 'enum' cannot be an empty array")),
                },
                "items" => {
                    s.items = Some(match v {
                        Bson::Array(a) => {
                            Items::Tuple(a.iter().map(|i| sub(k, i)).collect::<CmdResult<_>>()?)
                        }
                        other => Items::All(Box::new(sub(k, other)?)),
                    })
                }
                "additionalItems" => s.additional_items = Some(additional(k, v)?),
                "minItems" => s.min_items = Some(count(k, v)?),
                "maxItems" => s.max_items = Some(count(k, v)?),
                "uniqueItems" => s.unique_items = flag(k, v)?,
                "minProperties" => s.min_properties = Some(count(k, v)?),
                "maxProperties" => s.max_properties = Some(count(k, v)?),
                "allOf" => s.all_of = subs(k, v)?,
                "anyOf" => s.any_of = subs(k, v)?,
                "oneOf" => s.one_of = subs(k, v)?,
                "not" => s.not = Some(Box::new(sub(k, v)?)),
                "title" | "description" => {
                    if !matches!(v, Bson::String(_)) {
                        return Err(CmdError::type_mismatch(format!(
                            "$jsonSchema keyword '{k}' must be a string"
                        )));
                    }
                }
                u if UNSUPPORTED.contains(&u) => {
                    return Err(bad(format!(
                        "$jsonSchema keyword '{u}' is not currently supported"
                    )))
                }
                other => return Err(bad(format!("Unknown $jsonSchema keyword: {other}"))),
            }
        }
        let excl = |k: &str| d.get(k).and_then(Bson::as_bool).unwrap_or(false);
        for (k, on) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if d.contains_key(k) && !d.contains_key(on) {
                return Err(bad(format!(
                    "$jsonSchema keyword '{on}' must be a present if {k} is present"
                )));
            }
        }
        s.minimum = s.minimum.map(|(m, _)| (m, excl("exclusiveMinimum")));
        s.maximum = s.maximum.map(|(m, _)| (m, excl("exclusiveMaximum")));
        Ok(s)
    }
}

mod check;
