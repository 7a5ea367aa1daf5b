//! Catalog commands: `listDatabases`, `listCollections`, `create`, `drop`, `dropDatabase`,
//! `renameCollection`, `listIndexes`, `createIndexes`, `dropIndexes`.

use super::{args, read::open_cursor};
use crate::error::{CmdError, CmdResult};
use crate::matcher::Matcher;
use crate::server::ServerState;
use crate::store::Namespace;
use bson::{doc, Bson, Document};
use std::collections::VecDeque;

/// Fields every command may carry that are not collection options.
const GENERIC_FIELDS: &[&str] = &[
    "lsid",
    "txnNumber",
    "autocommit",
    "startTransaction",
    "$clusterTime",
    "$readPreference",
    "readConcern",
    "writeConcern",
    "comment",
    "apiVersion",
    "apiStrict",
    "apiDeprecationErrors",
    "maxTimeMS",
    "$db",
];

fn matches(filter: Option<&Document>, doc: &Document) -> CmdResult<bool> {
    match filter {
        Some(f) if !f.is_empty() => Ok(Matcher::new(f)?.matches(doc)),
        _ => Ok(true),
    }
}

pub(super) fn list_databases(state: &ServerState, cmd: &Document) -> CmdResult<Document> {
    let filter = args::opt_doc(cmd, "filter")?;
    let name_only = args::flag(cmd, "nameOnly");
    let mut databases = Vec::new();
    let mut total: u64 = 0;
    for (name, size) in state.store.list_databases() {
        let entry = doc! { "name": &name, "sizeOnDisk": size as i64, "empty": false };
        if !matches(filter, &entry)? {
            continue;
        }
        total += size;
        databases.push(if name_only {
            doc! { "name": name }
        } else {
            entry
        });
    }
    let mut reply = doc! { "databases": databases };
    if !name_only {
        reply.insert("totalSize", total as i64);
        reply.insert("totalSizeMb", (total / (1024 * 1024)) as i64);
    }
    Ok(reply)
}

pub(super) fn list_collections(
    state: &ServerState,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    let filter = args::opt_doc(cmd, "filter")?;
    let name_only = args::flag(cmd, "nameOnly");
    let mut out = VecDeque::new();
    for mut info in state.store.list_collections(db) {
        // Options persisted by an older testbed may still hold it.
        info.options.remove("idIndex");
        let is_view = info.options.contains_key("viewOn");
        let kind = if is_view { "view" } else { "collection" };
        // The `_id` index takes the collection's default collation, as on mongod.
        let mut id_index = doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" };
        if let Ok(c) = info.options.get_document("collation") {
            id_index.insert("collation", c.clone());
        }
        // A clustered collection has no separate `_id` index to list.
        let clustered = info.options.contains_key("clusteredIndex");
        let full = if is_view {
            doc! { "name": &info.name, "type": kind, "options": info.options, "info": { "readOnly": true } }
        } else {
            let mut d = doc! {
                "name": &info.name,
                "type": kind,
                "options": info.options,
                "info": { "readOnly": false, "uuid": info.uuid },
            };
            if !clustered {
                d.insert("idIndex", id_index);
            }
            d
        };
        if !matches(filter, &full)? {
            continue;
        }
        out.push_back(if name_only {
            doc! { "name": info.name, "type": kind }
        } else {
            full
        });
    }
    let batch_size = args::cursor_batch_size(cmd)?;
    Ok(open_cursor(
        state,
        format!("{db}.$cmd.listCollections"),
        out,
        batch_size,
        false,
    ))
}

pub(super) fn create(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "create")?;
    // `idIndex` specifies the `_id` index, not a collection option: `listCollections` shows
    // it beside `options`, as mongod does.
    let options: Document = cmd
        .iter()
        .skip(1)
        .filter(|(k, _)| !GENERIC_FIELDS.contains(&k.as_str()) && *k != "idIndex")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    state.store.create_collection(&ns, options)?;
    Ok(Document::new())
}

/// `collMod`: changes validation options, `changeStreamPreAndPostImages`, or an index's
/// `expireAfterSeconds` / `hidden` (`store::coll_mod`); the reply carries the `_old`/`_new`
/// values of an index change, as mongod's.
pub(super) fn coll_mod(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "collMod")?;
    let changes: Document = cmd
        .iter()
        .skip(1)
        .filter(|(k, _)| !GENERIC_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    state.store.coll_mod(&ns, &changes)
}

pub(super) fn drop(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "drop")?;
    let n_indexes = state.store.list_indexes(&ns).map(|i| i.len() as i32).ok();
    // Since 7.0 dropping a missing collection succeeds.
    state.store.drop_collection(&ns)?;
    let mut reply = doc! { "ns": ns.to_string() };
    if let Some(n) = n_indexes {
        reply.insert("nIndexesWas", n);
    }
    Ok(reply)
}

pub(super) fn drop_database(state: &ServerState, db: &str) -> CmdResult<Document> {
    state.store.drop_database(db)?;
    Ok(doc! { "dropped": db })
}

fn parse_full_ns(v: Option<&Bson>, field: &str) -> CmdResult<Namespace> {
    let s = v
        .and_then(Bson::as_str)
        .ok_or_else(|| CmdError::type_mismatch(format!("'{field}' must be a string")))?;
    match s.split_once('.') {
        Some((db, coll)) if !db.is_empty() && !coll.is_empty() => Ok(Namespace::new(db, coll)),
        _ => Err(CmdError::new(
            crate::error::code::INVALID_NAMESPACE,
            "InvalidNamespace",
            format!("Invalid namespace specified '{s}'"),
        )),
    }
}

pub(super) fn rename_collection(
    state: &ServerState,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    if db != "admin" {
        return Err(CmdError::new(
            13,
            "Unauthorized",
            "renameCollection may only be run against the admin database.",
        ));
    }
    let from = parse_full_ns(cmd.get("renameCollection"), "renameCollection")?;
    let to = parse_full_ns(cmd.get("to"), "to")?;
    state
        .store
        .rename_collection(&from, &to, args::flag(cmd, "dropTarget"))?;
    Ok(Document::new())
}

pub(super) fn list_indexes(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "listIndexes")?;
    let specs = state.store.list_indexes(&ns)?;
    let batch_size = args::cursor_batch_size(cmd)?;
    Ok(open_cursor(
        state,
        format!("{db}.$cmd.listIndexes.{}", ns.coll),
        specs.into(),
        batch_size,
        false,
    ))
}

pub(super) fn create_indexes(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "createIndexes")?;
    let specs = args::doc_array(cmd, "indexes")?;
    if specs.is_empty() {
        return Err(CmdError::bad_value(
            "Must specify at least one index to create",
        ));
    }
    let (before, after, created) = state.store.create_indexes(&ns, specs)?;
    let mut reply = doc! { "numIndexesBefore": before, "numIndexesAfter": after, "createdCollectionAutomatically": created };
    if before == after {
        reply.insert("note", "all indexes already exist");
    }
    Ok(reply)
}

pub(super) fn drop_indexes(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let name = if cmd.contains_key("dropIndexes") {
        "dropIndexes"
    } else {
        "deleteIndexes"
    };
    let ns = args::namespace(db, cmd, name)?;
    let index = cmd
        .get("index")
        .ok_or_else(|| CmdError::failed_to_parse("BSON field 'index' is missing"))?;
    let was = state.store.drop_indexes(&ns, index)?;
    Ok(doc! { "nIndexesWas": was })
}
