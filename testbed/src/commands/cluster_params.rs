//! `setClusterParameter` / `getClusterParameter` (6.0+, on `admin`), for the one cluster
//! parameter the testbed has: `changeStreamOptions.preAndPostImages.expireAfterSeconds`
//! (`"off"` or seconds), how long pre-images are kept at most (`store::preimages`).

use crate::error::{code, CmdError, CmdResult};
use crate::server::ServerState;
use bson::{doc, Bson, Document, Timestamp};

const CHANGE_STREAM_OPTIONS: &str = "changeStreamOptions";

fn admin_only(db: &str, name: &str) -> CmdResult<()> {
    if db == "admin" {
        return Ok(());
    }
    Err(CmdError::new(
        13,
        "Unauthorized",
        format!("{name} may only be run against the admin database."),
    ))
}

fn unknown(name: &str) -> CmdError {
    CmdError::new(
        code::NO_SUCH_KEY,
        "NoSuchKey",
        format!("Unknown Cluster Parameter {name}"),
    )
}

/// `{preAndPostImages: {expireAfterSeconds: "off" | n > 0}}` to the expiry (`None`: off).
fn parse_options(v: &Bson) -> CmdResult<Option<i64>> {
    let Bson::Document(d) = v else {
        return Err(CmdError::type_mismatch(
            "changeStreamOptions must be an object",
        ));
    };
    let mut expiry = None;
    for (k, v) in d {
        let (Bson::Document(images), "preAndPostImages") = (v, k.as_str()) else {
            return Err(CmdError::new(
                40415,
                "Location40415",
                format!("BSON field 'changeStreamOptions.{k}' is an unknown field."),
            ));
        };
        expiry = match images.get("expireAfterSeconds") {
            None => None,
            Some(Bson::String(s)) if s == "off" => None,
            Some(v) => match crate::store::seconds(v) {
                Some(n) if n > 0 => Some(n),
                _ => {
                    return Err(CmdError::bad_value(format!(
                        "Invalid value for parameter expireAfterSeconds: {v}: must be 'off' or a positive number of seconds"
                    )))
                }
            },
        };
    }
    Ok(expiry)
}

pub(super) fn set(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    admin_only(db, "setClusterParameter")?;
    let Ok(param) = cmd.get_document("setClusterParameter") else {
        return Err(CmdError::type_mismatch(
            "setClusterParameter must be an object",
        ));
    };
    let mut expiry = state.store.pre_image_expiry();
    for (name, v) in param {
        if name != CHANGE_STREAM_OPTIONS {
            return Err(unknown(name));
        }
        expiry = parse_options(v)?;
    }
    state.store.set_pre_image_expiry(expiry);
    Ok(Document::new())
}

pub(super) fn get(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    admin_only(db, "getClusterParameter")?;
    let names: Vec<&str> = match cmd.get("getClusterParameter") {
        Some(Bson::String(s)) if s == "*" => vec![CHANGE_STREAM_OPTIONS],
        Some(Bson::String(s)) => vec![s.as_str()],
        Some(Bson::Array(a)) => a.iter().filter_map(Bson::as_str).collect(),
        _ => {
            return Err(CmdError::type_mismatch(
                "getClusterParameter must be a string or an array of strings",
            ))
        }
    };
    let mut out = Vec::new();
    for name in names {
        if name != CHANGE_STREAM_OPTIONS {
            return Err(unknown(name));
        }
        let expire: Bson = match state.store.pre_image_expiry() {
            Some(n) => Bson::Int64(n),
            None => Bson::String("off".into()),
        };
        out.push(doc! {
            "_id": CHANGE_STREAM_OPTIONS,
            "clusterParameterTime": Timestamp { time: 0, increment: 0 },
            "preAndPostImages": {"expireAfterSeconds": expire},
        });
    }
    Ok(doc! {"clusterParameters": out})
}
