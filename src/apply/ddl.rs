//! DDL on the target, made idempotent: replaying an already applied drop, rename, create or
//! index change is a no-op instead of an error.

use crate::error::codes::{INDEX_NOT_FOUND, NAMESPACE_EXISTS, NAMESPACE_NOT_FOUND};
use crate::error::{command_code, Error, Origin, Result};
use crate::source::translate::DdlOp;
use bson::{doc, Document};
use mongodb::Database;

/// Applies one DDL op to the target database.
pub async fn apply_ddl(target: &Database, op: &DdlOp) -> Result<()> {
    let db = target.name().to_string();
    let outcome = match op {
        DdlOp::Drop { coll } => target.run_command(doc! {"drop": coll}).await,
        DdlOp::DropDatabase => target.run_command(doc! {"dropDatabase": 1}).await,
        DdlOp::Rename { from, to } => {
            target
                .client()
                .database("admin")
                .run_command(doc! {"renameCollection": format!("{db}.{from}"), "to": format!("{db}.{to}"), "dropTarget": true})
                .await
        }
        DdlOp::Create { coll, options } => {
            let mut cmd = doc! {"create": coll};
            for (k, v) in options {
                cmd.insert(k.clone(), v.clone());
            }
            target.run_command(cmd).await
        }
        DdlOp::CreateIndexes { coll, indexes } => {
            target.run_command(doc! {"createIndexes": coll, "indexes": clean_specs(indexes)}).await
        }
        DdlOp::DropIndexes { coll, names } => target.run_command(doc! {"dropIndexes": coll, "index": names.clone()}).await,
    };
    match outcome {
        Ok(_) => Ok(()),
        Err(e) => match command_code(&e) {
            Some(NAMESPACE_NOT_FOUND | INDEX_NOT_FOUND | NAMESPACE_EXISTS) => Ok(()),
            _ => Err(Error::from_driver(
                Origin::Target,
                format!("applying {}", describe(op)),
                &e,
            )),
        },
    }
}

/// Index specs as `createIndexes` accepts them (no `v`, `ns`, or build-state fields).
pub fn clean_specs(indexes: &[Document]) -> Vec<Document> {
    indexes
        .iter()
        .map(|spec| {
            let mut s = spec.clone();
            for k in ["v", "ns", "background"] {
                s.remove(k);
            }
            s
        })
        .collect()
}

fn describe(op: &DdlOp) -> String {
    match op {
        DdlOp::Drop { coll } => format!("drop of {coll}"),
        DdlOp::DropDatabase => "dropDatabase".into(),
        DdlOp::Rename { from, to } => format!("rename {from} -> {to}"),
        DdlOp::Create { coll, .. } => format!("create of {coll}"),
        DdlOp::CreateIndexes { coll, .. } => format!("createIndexes on {coll}"),
        DdlOp::DropIndexes { coll, .. } => format!("dropIndexes on {coll}"),
    }
}
