//! `create` options for clustered and time-series collections. `clusteredIndex` (on `_id`) is
//! accepted and listed as mongod lists it: the testbed already keeps documents in `_id` order,
//! which is what clustering changes. Time series (bucketed storage behind a view) and TTL on a
//! clustered collection (`expireAfterSeconds`) are not implemented and are refused rather than
//! ignored.

use crate::error::{code, CmdError, CmdResult};
use bson::{doc, Bson, Document};

/// The fields of a `clusteredIndex` document.
const FIELDS: &[&str] = &["key", "unique", "name", "v"];

fn invalid(msg: impl Into<String>) -> CmdError {
    CmdError::new(code::INVALID_OPTIONS, "InvalidOptions", msg)
}

/// Checks `clusteredIndex`, `expireAfterSeconds` and `timeseries` as mongod's `create` does and
/// stores `clusteredIndex` in its canonical form (`{v, key, name, unique}`; `true` stays the
/// legacy `true`, `false` is dropped).
pub(crate) fn normalize(mut options: Document) -> CmdResult<Document> {
    if options.contains_key("timeseries") {
        return Err(invalid(
            "time-series collections ('timeseries') are not supported by mongo-testbed",
        ));
    }
    let clustered = match options.get("clusteredIndex") {
        None | Some(Bson::Boolean(false)) => {
            options.remove("clusteredIndex");
            false
        }
        Some(Bson::Boolean(true)) => true,
        Some(Bson::Document(spec)) => {
            let canonical = canonical(spec)?;
            options.insert("clusteredIndex", canonical);
            true
        }
        Some(_) => {
            return Err(CmdError::new(
                5979702,
                "Location5979702",
                "'clusteredIndex' has to be a boolean or object.",
            ))
        }
    };
    if options.contains_key("expireAfterSeconds") {
        if !clustered {
            return Err(invalid(
                "'expireAfterSeconds' is only supported on time-series collections or when the 'clusteredIndex' option is specified",
            ));
        }
        return Err(invalid(
            "'expireAfterSeconds' on a clustered collection is not supported by mongo-testbed",
        ));
    }
    if clustered {
        for (field, code, what) in [("size", 6049200, "size"), ("max", 6049204, "max")] {
            if options.contains_key(field) {
                return Err(CmdError::new(
                    code,
                    &format!("Location{code}"),
                    format!("'{what}' field for capped collections is not allowed on clustered collections. Did you mean 'capped: true' with 'expireAfterSeconds'?"),
                ));
            }
        }
        if options
            .get("capped")
            .is_some_and(|c| c.as_bool() != Some(false))
        {
            return Err(CmdError::new(
                6127800,
                "Location6127800",
                "Clustered capped collection only available with 'enableTestCommands' server parameter",
            ));
        }
    }
    Ok(options)
}

/// `{v: 2, key: {_id: 1}, name: "_id_", unique: true}` from a `clusteredIndex` document.
fn canonical(spec: &Document) -> CmdResult<Document> {
    if let Some(k) = spec.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(CmdError::new(
            40415,
            "Location40415",
            format!("BSON field 'ClusteredIndexSpec.{k}' is an unknown field."),
        ));
    }
    let key = match spec.get("key") {
        Some(Bson::Document(k)) => k.clone(),
        Some(_) => {
            return Err(CmdError::type_mismatch(
                "'clusteredIndex.key' must be an object",
            ))
        }
        None => {
            return Err(CmdError::new(
                40414,
                "Location40414",
                "BSON field 'ClusteredIndexSpec.key' is missing but a required field",
            ))
        }
    };
    let on_id = key.len() == 1
        && matches!(
            key.get("_id"),
            Some(Bson::Int32(1) | Bson::Int64(1)) | Some(Bson::Double(1.0))
        );
    if !on_id {
        return Err(invalid(
            "The clusteredIndex option is only supported for key: {_id: 1}",
        ));
    }
    match spec.get("unique") {
        Some(Bson::Boolean(true)) => {}
        Some(Bson::Boolean(false)) => {
            return Err(invalid("The clusteredIndex option requires unique: true"))
        }
        Some(_) => {
            return Err(CmdError::type_mismatch(
                "'clusteredIndex.unique' must be a bool",
            ))
        }
        None => {
            return Err(CmdError::new(
                40414,
                "Location40414",
                "BSON field 'ClusteredIndexSpec.unique' is missing but a required field",
            ))
        }
    }
    let name = match spec.get("name") {
        None => "_id_".to_string(),
        Some(Bson::String(n)) => n.clone(),
        Some(_) => {
            return Err(CmdError::type_mismatch(
                "'clusteredIndex.name' must be a string",
            ))
        }
    };
    Ok(doc! {"v": 2, "key": {"_id": 1}, "name": name, "unique": true})
}

/// The `_id` index spec of a clustered collection as `listIndexes` shows it.
pub(crate) fn clustered_id_spec(options: &Document, mut id_spec: Document) -> Document {
    match options.get("clusteredIndex") {
        Some(Bson::Document(c)) => {
            if let Ok(name) = c.get_str("name") {
                id_spec.insert("name", name);
            }
        }
        Some(Bson::Boolean(true)) => {}
        _ => return id_spec,
    }
    id_spec.insert("unique", true);
    id_spec.insert("clustered", true);
    id_spec
}
