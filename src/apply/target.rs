//! Sending bulk `update` / `delete` commands to the target in size-bounded chunks, and turning
//! their replies into errors the writer can act on.

use crate::error::codes::{class_of_code, write_error_kind};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use bson::{doc, Bson, Document};
use mongodb::Database;

/// Commands stay well under the 16 MiB command limit (plus room for the envelope).
const MAX_COMMAND_BYTES: usize = 8 * 1024 * 1024;
/// Statements per command, under the server's `maxWriteBatchSize` (100,000).
const MAX_STATEMENTS: usize = 50_000;

/// Sends `statements` as `{<command>: coll, <field>: [...], ordered: true}` in size-bounded chunks.
pub async fn run_statements(
    target: &Database,
    command: &str,
    coll: &str,
    field: &str,
    statements: Vec<Document>,
) -> Result<()> {
    let mut chunk = Vec::new();
    let mut bytes = 0usize;
    for st in statements {
        let size = approx_size(&st);
        if !chunk.is_empty() && (bytes + size > MAX_COMMAND_BYTES || chunk.len() >= MAX_STATEMENTS)
        {
            send(target, command, coll, field, std::mem::take(&mut chunk)).await?;
            bytes = 0;
        }
        bytes += size;
        chunk.push(st);
    }
    if !chunk.is_empty() {
        send(target, command, coll, field, chunk).await?;
    }
    Ok(())
}

fn approx_size(d: &Document) -> usize {
    bson::to_vec(d).map(|v| v.len()).unwrap_or(1024)
}

async fn send(
    target: &Database,
    command: &str,
    coll: &str,
    field: &str,
    chunk: Vec<Document>,
) -> Result<()> {
    let cmd = doc! { command: coll, field: chunk, "ordered": true };
    let reply = target
        .run_command(cmd)
        .await
        .map_err(|e| Error::from_driver(Origin::Target, format!("{command} on {coll}"), &e))?;
    check_write_reply(command, coll, &reply)
}

/// Turns `writeErrors` / `writeConcernError` of an acknowledged reply into an error: the first
/// write error's code says what it is (duplicate key, path conflict, another refusal) and
/// whether it is transient; a write concern error is always transient.
pub fn check_write_reply(command: &str, coll: &str, reply: &Document) -> Result<()> {
    let context = || format!("{command} on {coll}");
    if let Ok(errors) = reply.get_array("writeErrors") {
        if let Some(Bson::Document(first)) = errors.first() {
            let code = first.get_i32("code").unwrap_or(0);
            let msg = first.get_str("errmsg").unwrap_or("write error");
            let e = Error::new(write_error_kind(code), class_of_code(code), context(), msg);
            return Err(e.at(Origin::Target).with_code(Some(code)));
        }
    }
    if let Ok(wce) = reply.get_document("writeConcernError") {
        let msg = wce.get_str("errmsg").unwrap_or("write concern error");
        let e = Error::new(ErrorKind::Write, Class::Transient, context(), msg);
        return Err(e.at(Origin::Target).with_code(wce.get_i32("code").ok()));
    }
    Ok(())
}
