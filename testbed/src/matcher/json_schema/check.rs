//! `$jsonSchema` evaluation: which rules a value breaks, in the shape of mongod's
//! `schemaRulesNotSatisfied` (so matching and validation `errInfo` agree).

use super::{Additional, Items, Schema, TypeSel};
use crate::compare::{as_num, type_rank, values_equal, Num};
use crate::matcher::parse::{type_code, type_name_of};
use bson::{doc, Bson, Document};

impl Schema {
    /// True when the whole document satisfies the schema.
    pub(crate) fn matches_doc(&self, doc: &Document) -> bool {
        self.failures_doc(doc).is_empty()
    }

    /// The rules `doc` breaks, as mongod's `schemaRulesNotSatisfied` lists them.
    pub(crate) fn failures_doc(&self, doc: &Document) -> Vec<Document> {
        self.failures(&Bson::Document(doc.clone()))
    }

    fn failures(&self, v: &Bson) -> Vec<Document> {
        let mut out = Vec::new();
        let spec = |k: &str| -> Document {
            let mut d = Document::new();
            if let Some(x) = self.source.get(k) {
                d.insert(k, x.clone());
            }
            d
        };
        let mut rule = |name: &str, reason: &str, extra: Document| {
            let mut d = doc! {"operatorName": name, "specifiedAs": spec(name), "reason": reason};
            d.extend(extra);
            out.push(d);
        };
        if !self.types.is_empty() && !self.types.iter().any(|t| type_matches(*t, v)) {
            let name = if self.source.contains_key("bsonType") {
                "bsonType"
            } else {
                "type"
            };
            rule(
                name,
                "type did not match",
                doc! {"consideredValue": v.clone(), "consideredType": type_name_of(v)},
            );
            return out;
        }
        if let Some(n) = as_f64(v) {
            if let Some((m, excl)) = self.minimum {
                if n < m || (excl && n == m) {
                    rule(
                        "minimum",
                        "comparison failed",
                        doc! {"consideredValue": v.clone()},
                    );
                }
            }
            if let Some((m, excl)) = self.maximum {
                if n > m || (excl && n == m) {
                    rule(
                        "maximum",
                        "comparison failed",
                        doc! {"consideredValue": v.clone()},
                    );
                }
            }
            if let Some(m) = self.multiple_of {
                if (n / m).fract() != 0.0 {
                    rule(
                        "multipleOf",
                        "considered value is not a multiple of the specified value",
                        doc! {"consideredValue": v.clone()},
                    );
                }
            }
        }
        if let Bson::String(s) = v {
            let len = s.chars().count();
            if self.min_length.is_some_and(|m| len < m) {
                rule(
                    "minLength",
                    "specified string length was not satisfied",
                    doc! {"consideredValue": v.clone()},
                );
            }
            if self.max_length.is_some_and(|m| len > m) {
                rule(
                    "maxLength",
                    "specified string length was not satisfied",
                    doc! {"consideredValue": v.clone()},
                );
            }
            if self.pattern.as_ref().is_some_and(|p| !p.is_match(s)) {
                rule(
                    "pattern",
                    "regular expression did not match",
                    doc! {"consideredValue": v.clone()},
                );
            }
        }
        if let Some(e) = &self.enumeration {
            if !e
                .iter()
                .any(|x| values_equal(x, v) && type_rank(x) == type_rank(v))
            {
                rule(
                    "enum",
                    "value was not found in enum",
                    doc! {"consideredValue": v.clone()},
                );
            }
        }
        if let Bson::Array(items) = v {
            if self.min_items.is_some_and(|m| items.len() < m) {
                rule(
                    "minItems",
                    "array did not match specified length",
                    doc! {"consideredValue": v.clone()},
                );
            }
            if self.max_items.is_some_and(|m| items.len() > m) {
                rule(
                    "maxItems",
                    "array did not match specified length",
                    doc! {"consideredValue": v.clone()},
                );
            }
            if self.unique_items {
                let dup = items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].iter().any(|b| values_equal(a, b)));
                if dup {
                    rule(
                        "uniqueItems",
                        "found a duplicate item",
                        doc! {"consideredValue": v.clone()},
                    );
                }
            }
            let bad_items: Vec<Bson> = match &self.items {
                Some(Items::All(s)) => items
                    .iter()
                    .filter(|i| !s.failures(i).is_empty())
                    .cloned()
                    .collect(),
                Some(Items::Tuple(ss)) => {
                    let mut bad: Vec<Bson> = items
                        .iter()
                        .zip(ss)
                        .filter(|(i, s)| !s.failures(i).is_empty())
                        .map(|(i, _)| i.clone())
                        .collect();
                    if let Some(rest) = &self.additional_items {
                        for i in items.iter().skip(ss.len()) {
                            let ok = match rest {
                                Additional::Allowed(b) => *b,
                                Additional::Schema(s) => s.failures(i).is_empty(),
                            };
                            if !ok {
                                bad.push(i.clone());
                            }
                        }
                    }
                    bad
                }
                None => Vec::new(),
            };
            if !bad_items.is_empty() {
                rule(
                    "items",
                    "At least one item did not match the sub-schema",
                    doc! {"consideredValue": v.clone()},
                );
            }
        }
        if let Bson::Document(d) = v {
            let missing: Vec<&String> = self
                .required
                .iter()
                .filter(|f| !d.contains_key(f.as_str()))
                .collect();
            if !missing.is_empty() {
                rule(
                    "required",
                    "missing required properties",
                    doc! {"missingProperties": missing.iter().map(|s| Bson::String((*s).clone())).collect::<Vec<_>>()},
                );
            }
            let mut props = Vec::new();
            for name in &self.property_order {
                if let (Some(s), Some(x)) = (self.properties.get(name), d.get(name)) {
                    let f = s.failures(x);
                    if !f.is_empty() {
                        props.push(doc! {"propertyName": name, "details": f});
                    }
                }
            }
            if !props.is_empty() {
                rule(
                    "properties",
                    "at least one property did not match",
                    doc! {"propertiesNotSatisfied": props},
                );
            }
            let mut extra = Vec::new();
            for (k, x) in d {
                if self.properties.contains_key(k) {
                    continue;
                }
                let matching: Vec<&Schema> = self
                    .pattern_properties
                    .iter()
                    .filter(|(re, _)| re.is_match(k))
                    .map(|(_, s)| s)
                    .collect();
                if !matching.is_empty() {
                    if matching.iter().any(|s| !s.failures(x).is_empty()) {
                        extra.push(k.clone());
                    }
                    continue;
                }
                let ok = match &self.additional {
                    None | Some(Additional::Allowed(true)) => true,
                    Some(Additional::Allowed(false)) => false,
                    Some(Additional::Schema(s)) => s.failures(x).is_empty(),
                };
                if !ok {
                    extra.push(k.clone());
                }
            }
            if !extra.is_empty() {
                rule(
                    "additionalProperties",
                    "found additional properties",
                    doc! {"additionalProperties": extra},
                );
            }
            if self.min_properties.is_some_and(|m| d.len() < m) {
                rule(
                    "minProperties",
                    "specified number of properties was not satisfied",
                    doc! {"numberOfProperties": d.len() as i32},
                );
            }
            if self.max_properties.is_some_and(|m| d.len() > m) {
                rule(
                    "maxProperties",
                    "specified number of properties was not satisfied",
                    doc! {"numberOfProperties": d.len() as i32},
                );
            }
        }
        if self.all_of.iter().any(|s| !s.failures(v).is_empty()) {
            rule(
                "allOf",
                "at least one clause did not match",
                Document::new(),
            );
        }
        if !self.any_of.is_empty() && self.any_of.iter().all(|s| !s.failures(v).is_empty()) {
            rule("anyOf", "no clause matched", Document::new());
        }
        if !self.one_of.is_empty()
            && self
                .one_of
                .iter()
                .filter(|s| s.failures(v).is_empty())
                .count()
                != 1
        {
            rule(
                "oneOf",
                "more than one or no clauses matched",
                Document::new(),
            );
        }
        if self.not.as_ref().is_some_and(|s| s.failures(v).is_empty()) {
            rule("not", "child expression matched", Document::new());
        }
        out
    }
}

fn as_f64(v: &Bson) -> Option<f64> {
    match as_num(v)? {
        Num::Int(i) => Some(i as f64),
        Num::Float(f) => Some(f),
    }
}

fn type_matches(t: TypeSel, v: &Bson) -> bool {
    match t {
        TypeSel::Number => as_num(v).is_some(),
        TypeSel::Code(c) => type_code(v) == c,
    }
}
