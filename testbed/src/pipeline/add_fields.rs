//! `$addFields` / `$set` as mongod's add-fields projection: a nested object that is not an
//! expression is a nested specification (`{a: {b: 1}}` is `{"a.b": 1}`), so it merges into an
//! embedded document `a` instead of replacing it; an empty object is the value `{}`. A path
//! descends into embedded documents and into every element of an array; a scalar (or missing)
//! value on the way is replaced by a document holding the new fields.

use super::expr;
use crate::error::{CmdError, CmdResult};
use bson::{Bson, Document};

/// The parsed specification: one (dotted path, expression) per value to compute, in order.
pub(super) type Fields = Vec<(String, Bson)>;

/// Flattens and validates the specification (errors as mongod: 40181, 40183, 40176).
pub(super) fn parse(spec: &Document) -> CmdResult<Fields> {
    let mut out = Vec::new();
    for (name, v) in spec {
        flatten(spec, name.clone(), v, &mut out)?;
    }
    let mut seen: Vec<&str> = Vec::new();
    for (path, _) in &out {
        let clash = |a: &str, b: &str| {
            a == b || b.strip_prefix(a).is_some_and(|rest| rest.starts_with('.'))
        };
        if let Some(other) = seen.iter().find(|s| clash(s, path) || clash(path, s)) {
            return Err(CmdError::new(
                40176,
                "Location40176",
                format!("specification contains two conflicting paths. Cannot specify both '{path}' and '{other}': {spec}"),
            ));
        }
        seen.push(path);
    }
    Ok(out)
}

fn flatten(root: &Document, path: String, v: &Bson, out: &mut Fields) -> CmdResult<()> {
    let Bson::Document(sub) = v else {
        out.push((path, v.clone()));
        return Ok(());
    };
    match sub
        .keys()
        .find(|k| k.starts_with('$'))
        .or(sub.keys().next())
    {
        None => out.push((path, v.clone())),
        Some(first) if first.starts_with('$') => {
            if sub.len() != 1 {
                return Err(CmdError::new(
                    40181,
                    "Location40181",
                    format!("an expression specification must contain exactly one field, the name of the expression. Found {} fields in {sub}, while parsing object {root}", sub.len()),
                ));
            }
            out.push((path, v.clone()));
        }
        Some(_) => {
            for (k, inner) in sub {
                if k.contains('.') {
                    return Err(CmdError::new(
                        40183,
                        "Location40183",
                        format!("cannot use dotted field name '{k}' in a sub object: {root}"),
                    ));
                }
                flatten(root, format!("{path}.{k}"), inner, out)?;
            }
        }
    }
    Ok(())
}

/// Each expression is evaluated on the input document; a missing result removes the field.
pub(super) fn apply(fields: &Fields, doc: Document) -> CmdResult<Document> {
    let mut out = doc.clone();
    for (name, e) in fields {
        let parts: Vec<&str> = name.split('.').collect();
        match expr::eval_opt(e, &doc)? {
            Some(v) => set_in_doc(&mut out, &parts, &v),
            None => {
                crate::path::unset_path(&mut out, &parts);
            }
        }
    }
    Ok(out)
}

fn set_in_doc(doc: &mut Document, parts: &[&str], value: &Bson) {
    let (key, rest) = (parts[0], &parts[1..]);
    if rest.is_empty() {
        doc.insert(key, value.clone()); // in place when it exists
        return;
    }
    match doc.get_mut(key) {
        Some(child) => set_in_value(child, rest, value),
        None => {
            let mut d = Document::new();
            set_in_doc(&mut d, rest, value);
            doc.insert(key, d);
        }
    }
}

fn set_in_value(cur: &mut Bson, parts: &[&str], value: &Bson) {
    match cur {
        Bson::Document(d) => set_in_doc(d, parts, value),
        Bson::Array(items) => {
            for item in items {
                set_in_value(item, parts, value);
            }
        }
        other => {
            let mut d = Document::new();
            set_in_doc(&mut d, parts, value);
            *other = Bson::Document(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn run(spec: Document, input: Document) -> Document {
        apply(&parse(&spec).unwrap(), input).unwrap()
    }

    #[test]
    fn a_nested_object_merges_into_an_embedded_document() {
        let input = doc! {"_id": 1, "a": {"x": 1, "b": 0}, "z": 2};
        assert_eq!(
            run(
                doc! {"a": {"b": 1, "c": {"$add": ["$z", 1]}}},
                input.clone()
            ),
            doc! {"_id": 1, "a": {"x": 1, "b": 1, "c": 3}, "z": 2}
        );
        // The same as dotted paths.
        assert_eq!(
            run(doc! {"a.b": 1, "a.c": 3}, input),
            doc! {"_id": 1, "a": {"x": 1, "b": 1, "c": 3}, "z": 2}
        );
    }

    #[test]
    fn arrays_scalars_and_empty_objects() {
        let input = doc! {"a": [{"x": 1}, 5, [{"y": 2}]], "s": 3};
        assert_eq!(
            run(doc! {"a": {"b": 1}, "s": {"t": true}}, input),
            doc! {"a": [{"x": 1, "b": 1}, {"b": 1}, [{"y": 2, "b": 1}]], "s": {"t": true}}
        );
        assert_eq!(run(doc! {"a": {}}, doc! {"a": {"x": 1}}), doc! {"a": {}});
        assert_eq!(
            run(doc! {"m": {"n": "v"}}, doc! {"_id": 1}),
            doc! {"_id": 1, "m": {"n": "v"}}
        );
    }

    #[test]
    fn invalid_specifications_fail_as_on_mongod() {
        let code = |spec: Document| parse(&spec).unwrap_err().code;
        assert_eq!(code(doc! {"a": {"$add": [1, 2], "b": 1}}), 40181);
        assert_eq!(code(doc! {"a": {"b": 1, "$add": [1, 2]}}), 40181);
        assert_eq!(code(doc! {"a": {"b.c": 1}}), 40183);
        assert_eq!(code(doc! {"a": {"b": 1}, "a.b": 2}), 40176);
        assert_eq!(code(doc! {"a": 1, "a.b": 2}), 40176);
    }
}
