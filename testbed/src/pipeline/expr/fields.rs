//! `$getField`, `$setField` and `$unsetField` (MongoDB 5.0+): the only expressions that read or
//! write a field whose name holds a `.` or starts with `$`, since the name is not a path.

use super::{eval_opt, type_name_of};
use crate::error::{CmdError, CmdResult};
use bson::{Bson, Document};

/// Evaluates one of the three operators named `name` with argument `arg`.
pub(super) fn eval(name: &str, arg: &Bson, doc: &Document) -> CmdResult<Option<Bson>> {
    // `$getField: "name"` is shorthand for `{field: "name", input: "$$CURRENT"}`.
    let spec = match (name, arg) {
        (_, Bson::Document(d)) if name != "$getField" || d.contains_key("field") => d.clone(),
        ("$getField", other) => {
            let mut d = Document::new();
            d.insert("field", other.clone());
            d
        }
        (_, other) => {
            return Err(err(
                4161100,
                format!(
                    "{name} only supports an object as its argument, got {}",
                    type_name_of(other)
                ),
            ))
        }
    };
    let allowed: &[&str] = match name {
        "$setField" => &["field", "input", "value"],
        _ => &["field", "input"],
    };
    if let Some(k) = spec.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(
            4161101,
            format!("{name} found an unknown argument: {k}"),
        ));
    }
    let field = field_name(name, &spec, doc)?;
    let input = match spec.get("input") {
        Some(e) => eval_opt(e, doc)?,
        None if name == "$getField" => Some(Bson::Document(doc.clone())),
        None => {
            return Err(err(
                4161103,
                format!("{name} requires 'input' to be specified"),
            ))
        }
    };
    if name == "$getField" {
        return Ok(match input {
            Some(Bson::Document(d)) => d.get(&field).cloned(),
            Some(Bson::Null) | Some(Bson::Undefined) => Some(Bson::Null),
            _ => None,
        });
    }
    let value = match (name, spec.get("value")) {
        ("$unsetField", _) => None,
        (_, Some(e)) => eval_opt(e, doc)?,
        (_, None) => {
            return Err(err(
                4161104,
                format!("{name} requires 'value' to be specified"),
            ))
        }
    };
    let mut out = match input {
        None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
        Some(Bson::Document(d)) => d,
        Some(other) => {
            return Err(err(
                4161105,
                format!(
                    "{name} requires 'input' to evaluate to type Object, but got {}",
                    type_name_of(&other)
                ),
            ))
        }
    };
    match value {
        // Replaced in place when present, appended otherwise.
        Some(v) => {
            out.insert(field, v);
        }
        None => {
            out.remove(&field);
        }
    }
    Ok(Some(Bson::Document(out)))
}

/// `field` must be a constant string (a `$literal` one when it starts with `$`).
fn field_name(name: &str, spec: &Document, doc: &Document) -> CmdResult<String> {
    let Some(e) = spec.get("field") else {
        return Err(err(
            4161102,
            format!("{name} requires 'field' to be specified"),
        ));
    };
    if matches!(e, Bson::String(s) if s.starts_with('$')) {
        return Err(err(
            4161108,
            format!("{name} requires 'field' to be a constant string: a field path is not allowed; use $literal for a name starting with '$'"),
        ));
    }
    match eval_opt(e, doc)? {
        Some(Bson::String(s)) => Ok(s),
        other => Err(err(
            4161106,
            format!(
                "{name} requires 'field' to evaluate to type String, but got {}",
                other.as_ref().map_or("missing", type_name_of)
            ),
        )),
    }
}

fn err(code: i32, msg: String) -> CmdError {
    CmdError::new(code, &format!("Location{code}"), msg)
}

#[cfg(test)]
mod tests {
    use super::super::eval_opt;
    use bson::{bson, doc, Bson};

    fn ev(e: Bson) -> Option<Bson> {
        eval_opt(&e, &doc! {"_id": 1, "foo": {"x": 1}, "$a": 2, "a.b": 3}).unwrap()
    }

    #[test]
    fn set_field_adds_replaces_and_removes_names_that_are_not_paths() {
        assert_eq!(
            ev(bson!({"$setField": {"field": {"$literal": "$a"}, "value": 1, "input": "$foo"}})),
            Some(bson!({"x": 1, "$a": 1}))
        );
        assert_eq!(
            ev(bson!({"$setField": {"field": "a.b", "value": 9, "input": "$$ROOT"}})),
            Some(bson!({"_id": 1, "foo": {"x": 1}, "$a": 2, "a.b": 9}))
        );
        assert_eq!(
            ev(bson!({"$setField": {"field": "foo", "value": "$$REMOVE", "input": "$$ROOT"}})),
            Some(bson!({"_id": 1, "$a": 2, "a.b": 3}))
        );
        assert_eq!(
            ev(bson!({"$unsetField": {"field": {"$literal": "$a"}, "input": "$$ROOT"}})),
            Some(bson!({"_id": 1, "foo": {"x": 1}, "a.b": 3}))
        );
        assert_eq!(
            ev(bson!({"$setField": {"field": "z", "value": 1, "input": "$missing"}})),
            Some(Bson::Null)
        );
    }

    #[test]
    fn get_field_reads_names_literally() {
        assert_eq!(ev(bson!({"$getField": "a.b"})), Some(Bson::Int32(3)));
        assert_eq!(
            ev(bson!({"$getField": {"field": {"$literal": "$a"}, "input": "$$ROOT"}})),
            Some(Bson::Int32(2))
        );
        assert_eq!(
            ev(bson!({"$getField": {"field": "x", "input": "$foo"}})),
            Some(Bson::Int32(1))
        );
        assert_eq!(ev(bson!({"$getField": "nope"})), None);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let d = doc! {"a": 1};
        for (e, code) in [
            (
                bson!({"$setField": {"field": 1, "value": 1, "input": "$$ROOT"}}),
                4161106,
            ),
            (
                bson!({"$setField": {"field": "$a", "value": 1, "input": "$$ROOT"}}),
                4161108,
            ),
            (
                bson!({"$setField": {"field": "a", "value": 1, "input": 5}}),
                4161105,
            ),
            (
                bson!({"$setField": {"field": "a", "input": "$$ROOT"}}),
                4161104,
            ),
            (
                bson!({"$setField": {"field": "a", "value": 1, "input": "$$ROOT", "x": 1}}),
                4161101,
            ),
        ] {
            assert_eq!(eval_opt(&e, &d).unwrap_err().code, code, "{e}");
        }
    }
}
