//! Document validation (`validator`, `validationLevel`, `validationAction` collection options)
//! (`collMod`, in `coll_mod`, changes those options). A rejected write fails with
//! DocumentValidationFailure (121) and an `errInfo` naming the failing document and clauses.

use super::txn::Txn;
use super::Namespace;
use crate::collation::Collation;
use crate::error::{code, CmdError, CmdResult};
use crate::matcher::Matcher;
use bson::{doc, Bson, Document};

/// Checks the options a collection is created or modified with (a validator must parse).
pub(crate) fn check_options(options: &Document) -> CmdResult<()> {
    if let Some(v) = options.get("validator") {
        let Bson::Document(validator) = v else {
            return Err(CmdError::type_mismatch("'validator' must be an object"));
        };
        Matcher::new(validator)?;
    }
    for (key, allowed) in [
        ("validationLevel", &["off", "strict", "moderate"][..]),
        ("validationAction", &["error", "warn"][..]),
    ] {
        match options.get(key) {
            None => {}
            Some(Bson::String(s)) if allowed.contains(&s.as_str()) => {}
            Some(other) => {
                return Err(CmdError::bad_value(format!(
                    "Enumeration value '{other}' for field '{key}' is not a valid value."
                )))
            }
        }
    }
    Ok(())
}

/// Why `doc` fails `validator`: each top-level clause it does not satisfy.
fn details(validator: &Document, doc: &Document, collation: Option<&Collation>) -> Document {
    let failing: Vec<Document> = validator
        .iter()
        .filter(|(k, v)| {
            let clause = doc! { k.as_str(): (*v).clone() };
            !Matcher::with_collation(&clause, collation).is_ok_and(|m| m.matches(doc))
        })
        .map(|(k, v)| {
            let operator = match v {
                Bson::Document(ops) if !k.starts_with('$') => ops
                    .keys()
                    .next()
                    .filter(|o| o.starts_with('$'))
                    .cloned()
                    .unwrap_or_else(|| "$eq".to_string()),
                _ if k.starts_with('$') => k.clone(),
                _ => "$eq".to_string(),
            };
            let mut d = doc! {
                "operatorName": operator,
                "specifiedAs": { k.as_str(): v.clone() },
                "reason": "the clause was not satisfied",
            };
            if let (true, Bson::Document(schema)) = (k == "$jsonSchema", v) {
                d.remove("reason");
                d.remove("specifiedAs");
                d.insert(
                    "schemaRulesNotSatisfied",
                    crate::matcher::json_schema_failures(schema, doc),
                );
            } else if let Some(value) = crate::path::get_path(doc, k) {
                d.insert("consideredValue", value.clone());
            } else if !k.starts_with('$') {
                d.insert("reason", "field was missing");
            }
            d
        })
        .collect();
    match <[Document; 1]>::try_from(failing) {
        Ok([one]) => one,
        Err(many) => doc! {
            "operatorName": "$and",
            "clausesNotSatisfied": many
                .into_iter()
                .enumerate()
                .map(|(i, d)| doc! { "index": i as i32, "details": d })
                .collect::<Vec<_>>(),
        },
    }
}

/// Applies a collection's validator to the document a write produces (`old`: the document
/// before an update, for `validationLevel: moderate`).
pub(crate) fn check(options: &Document, new: &Document, old: Option<&Document>) -> CmdResult<()> {
    let Ok(validator) = options.get_document("validator") else {
        return Ok(());
    };
    let level = options.get_str("validationLevel").unwrap_or("strict");
    let action = options.get_str("validationAction").unwrap_or("error");
    if validator.is_empty() || level == "off" || action == "warn" {
        return Ok(());
    }
    // Validators compare strings with the collection's default collation, as on mongod.
    let collation = crate::collation::from_options(options);
    let m = Matcher::with_collation(validator, collation.as_ref())?;
    if m.matches(new) || (level == "moderate" && old.is_some_and(|o| !m.matches(o))) {
        return Ok(());
    }
    let mut e = CmdError::new(
        code::DOCUMENT_VALIDATION_FAILURE,
        "DocumentValidationFailure",
        "Document failed validation",
    );
    e.extra.insert(
        "errInfo",
        doc! {
            "failingDocumentId": new.get("_id").cloned().unwrap_or(Bson::Null),
            "details": details(validator, new, collation.as_ref()),
        },
    );
    Err(e)
}

impl Txn<'_> {
    /// Runs `ns`'s validator on a document being written, unless bypassed.
    pub(super) fn validate(
        &self,
        ns: &Namespace,
        new: &Document,
        old: Option<&Document>,
    ) -> CmdResult<()> {
        match self.data.coll(ns) {
            Some(c) if !self.bypass_validation => check(&c.options, new, old),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_moderate_off_and_warn() {
        let opts = doc! {"validator": {"x": {"$type": "string"}}};
        let bad = doc! {"_id": 1, "x": 1};
        let e = check(&opts, &bad, None).unwrap_err();
        assert_eq!(e.code, 121);
        let info = e.extra.get_document("errInfo").unwrap();
        assert_eq!(info.get("failingDocumentId"), Some(&Bson::Int32(1)));
        assert_eq!(
            info.get_document("details")
                .unwrap()
                .get_str("operatorName"),
            Ok("$type")
        );
        assert!(check(&opts, &doc! {"_id": 1, "x": "s"}, None).is_ok());
        let moderate =
            doc! {"validator": {"x": {"$type": "string"}}, "validationLevel": "moderate"};
        assert!(
            check(&moderate, &bad, Some(&doc! {"_id": 1})).is_ok(),
            "old doc was invalid"
        );
        assert!(check(&moderate, &bad, Some(&doc! {"_id": 1, "x": "s"})).is_err());
        let warn = doc! {"validator": {"x": 1}, "validationAction": "warn"};
        assert!(check(&warn, &bad, None).is_ok());
        let off = doc! {"validator": {"x": 1}, "validationLevel": "off"};
        assert!(check(&off, &bad, None).is_ok());
    }

    #[test]
    fn several_failing_clauses_are_listed_under_and() {
        let d = details(
            &doc! {"a": 1, "b": {"$gt": 2}, "c": 3},
            &doc! {"a": 2, "c": 3},
            None,
        );
        assert_eq!(d.get_str("operatorName"), Ok("$and"));
        assert_eq!(d.get_array("clausesNotSatisfied").unwrap().len(), 2);
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(check_options(&doc! {"validator": {"x": {"$nope": 1}}}).is_err());
        assert!(check_options(&doc! {"validationLevel": "sometimes"}).is_err());
        assert!(check_options(&doc! {"validator": {"x": 1}, "validationAction": "warn"}).is_ok());
    }
}
