//! Write concern on a one-member replica set, as mongod answers it: the write is applied, then
//! a `w` the set cannot satisfy is reported as `writeConcernError` beside `ok: 1`
//! (UnsatisfiableWriteConcern, 100, "Not enough data-bearing nodes"; an unknown tag set name is
//! UnknownReplWriteConcern, 79). `w: "majority"` and `w` of 0 or 1 are met by the one member.

use bson::{doc, Bson, Document};

/// Commands that take a write concern.
const WRITE_COMMANDS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "findAndModify",
    "findandmodify",
    "create",
    "drop",
    "dropDatabase",
    "renameCollection",
    "createIndexes",
    "dropIndexes",
    "deleteIndexes",
    "collMod",
    "aggregate",
];

/// Data-bearing members of the testbed's replica set.
const DATA_BEARING_NODES: i64 = 1;

/// The `writeConcernError` a successful `name` command gets for its `writeConcern`, if any.
pub(crate) fn unsatisfiable(name: &str, cmd: &Document) -> Option<Document> {
    if !WRITE_COMMANDS.contains(&name) {
        return None;
    }
    let wc = cmd.get_document("writeConcern").ok()?;
    let (code, code_name, errmsg) = match wc.get("w")? {
        Bson::String(s) if s == "majority" => return None,
        Bson::String(tag) => (
            79,
            "UnknownReplWriteConcern",
            format!("No write concern mode named '{tag}' found in replica set configuration"),
        ),
        w => {
            let nodes = match w {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                Bson::Double(f) => *f as i64,
                _ => return None,
            };
            if nodes <= DATA_BEARING_NODES {
                return None;
            }
            (
                100,
                "UnsatisfiableWriteConcern",
                "Not enough data-bearing nodes".to_string(),
            )
        }
    };
    let mut shown = wc.clone();
    shown.insert("provenance", "clientSupplied");
    Some(doc! {
        "code": code,
        "codeName": code_name,
        "errmsg": errmsg,
        "errInfo": {"writeConcern": shown},
    })
}
