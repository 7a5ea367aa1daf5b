//! Sending bulk `update` / `delete` commands to the target in size-bounded chunks, and turning
//! their replies into errors the writer can act on. Every command states the target database's
//! write concern (`target.write_concern`, set on the target client) and, for updates, bypasses
//! document validation: the source already validated what it accepted (with bypass, or before
//! its validator tightened), and the backup must hold it whatever its own validator says.

use super::statements::raw;
use crate::error::codes::{class_of_code, write_error_kind};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::source::Endpoint;
use bson::{Bson, Document, RawDocument, RawDocumentBuf};
use mongodb::Database;

/// Commands stay well under the 16 MiB command limit (plus room for the envelope).
const MAX_COMMAND_BYTES: usize = 8 * 1024 * 1024;
/// Statements per command, under the server's `maxWriteBatchSize` (100,000).
const MAX_STATEMENTS: usize = 50_000;
/// An `_id` shown in an error is cut to this many characters (its canonical Extended JSON).
const MAX_SHOWN_ID_CHARS: usize = 200;
/// UnsatisfiableWriteConcern (more nodes than the set has) and UnknownReplWriteConcern (no such
/// tag): the configured write concern can never be met, a configuration error.
const UNSATISFIABLE_WRITE_CONCERN: [i32; 2] = [100, 79];

/// Sends `statements` as `{<command>: coll, <field>: [...], ordered: true}` in size-bounded
/// chunks (statements built as documents: the resync's deletes).
pub async fn run_statements(
    target: &Endpoint,
    command: &str,
    coll: &str,
    field: &str,
    statements: Vec<Document>,
) -> Result<()> {
    let raw: Vec<RawDocumentBuf> = statements.iter().map(raw).collect();
    send_statements(target, command, coll, field, &raw).await
}

/// Sends raw `statements` to the target collection of key `coll` in size-bounded chunks
/// (sizes are raw lengths), each chunk one raw command: the statements' bytes are copied
/// once, into the command.
pub async fn send_statements<S: AsRef<RawDocument>>(
    target: &Endpoint,
    command: &str,
    coll: &str,
    field: &str,
    statements: &[S],
) -> Result<()> {
    let (db, name) = target.locate(coll);
    let (db, coll) = (&db, name.as_str());
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, st) in statements.iter().enumerate() {
        let size = st.as_ref().as_bytes().len();
        if i > start && (bytes + size > MAX_COMMAND_BYTES || i - start >= MAX_STATEMENTS) {
            send(db, command, coll, field, &statements[start..i]).await?;
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < statements.len() {
        send(db, command, coll, field, &statements[start..]).await?;
    }
    Ok(())
}

async fn send<S: AsRef<RawDocument>>(
    db: &Database,
    command: &str,
    coll: &str,
    field: &str,
    chunk: &[S],
) -> Result<()> {
    let context = || format!("{command} on {coll}");
    let cmd = write_command(db, command, coll, field, chunk)
        .map_err(|e| Error::new(ErrorKind::Internal, Class::Fatal, context(), e.to_string()))?;
    let reply = db
        .run_raw_command(cmd)
        .await
        .map_err(|e| Error::from_driver(Origin::Target, context(), &e))?;
    check_statements_reply(command, coll, chunk, &reply)
}

/// The raw command of one chunk: ordered, with the database's write concern, and
/// `bypassDocumentValidation` on the commands that validate (`insert`, `update`).
pub fn write_command<S: AsRef<RawDocument>>(
    target: &Database,
    command: &str,
    coll: &str,
    field: &str,
    chunk: &[S],
) -> bson::raw::Result<RawDocumentBuf> {
    let bypass = matches!(command, "insert" | "update");
    let wc = write_concern_of(target);
    super::statements::bulk_command(command, coll, field, chunk, bypass, wc.as_ref())
}

/// The database's write concern as a document (none when the handle has none: the server
/// default).
fn write_concern_of(target: &Database) -> Option<Document> {
    target
        .write_concern()
        .and_then(|wc| bson::to_document(wc).ok())
        .filter(|wc| !wc.is_empty())
}

/// `cmd` with `writeConcern` of `target` (none when the handle has none: the server default).
pub fn with_write_concern(target: &Database, mut cmd: Document) -> Document {
    if let Some(wc) = write_concern_of(target) {
        cmd.insert("writeConcern", wc);
    }
    cmd
}

/// [`check_statements_reply`] without the statements (the error names no `_id`).
pub fn check_write_reply(command: &str, coll: &str, reply: &Document) -> Result<()> {
    check_statements_reply::<RawDocumentBuf>(command, coll, &[], reply)
}

/// Turns `writeErrors` / `writeConcernError` of an acknowledged reply to `statements` into an
/// error: the first write error's code says what it is (duplicate key, path conflict, another
/// refusal) and whether it is transient, and the error names the collection and the `_id` of
/// the refused statement (never other field values). A write concern error is transient
/// (`wtimeout`) unless the write concern can never be met.
pub fn check_statements_reply<S: AsRef<RawDocument>>(
    command: &str,
    coll: &str,
    statements: &[S],
    reply: &Document,
) -> Result<()> {
    if let Ok(errors) = reply.get_array("writeErrors") {
        if let Some(Bson::Document(first)) = errors.first() {
            let code = first.get_i32("code").unwrap_or(0);
            let msg = first.get_str("errmsg").unwrap_or("write error");
            let id = index_of(first)
                .and_then(|i| statements.get(i))
                .and_then(|st| st.as_ref().get_document("q").ok())
                .and_then(|q| q.get("_id").ok().flatten())
                .and_then(|id| Bson::try_from(id).ok());
            let context = refused_context(command, coll, id.as_ref());
            let e = Error::new(write_error_kind(code), class_of_code(code), context, msg);
            return Err(e.at(Origin::Target).with_code(Some(code)));
        }
    }
    if let Ok(wce) = reply.get_document("writeConcernError") {
        let code = wce.get_i32("code").ok();
        let msg = wce.get_str("errmsg").unwrap_or("write concern error");
        return Err(write_concern_error(
            &format!("{command} on {coll}"),
            code,
            msg,
        ));
    }
    Ok(())
}

/// The error of a `writeConcernError`: a configuration error naming `target.write_concern` when
/// it can never be met, else transient (the write is applied; replaying it is harmless).
pub fn write_concern_error(context: &str, code: Option<i32>, msg: &str) -> Error {
    let e = match code {
        Some(c) if UNSATISFIABLE_WRITE_CONCERN.contains(&c) => Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "target.write_concern",
            format!("{context}: the target cannot satisfy the write concern: {msg}"),
        ),
        _ => Error::new(ErrorKind::Write, Class::Transient, context, msg),
    };
    e.at(Origin::Target).with_code(code)
}

/// `"<command> on <coll>"`, with `, _id <canonical Extended JSON>` when the statement is known.
pub fn refused_context(command: &str, coll: &str, id: Option<&Bson>) -> String {
    match id {
        Some(id) => format!("{command} on {coll}, _id {}", shown_id(id)),
        None => format!("{command} on {coll}"),
    }
}

/// The canonical Extended JSON of `id`, cut to [`MAX_SHOWN_ID_CHARS`].
fn shown_id(id: &Bson) -> String {
    let text = id.clone().into_canonical_extjson().to_string();
    match text.char_indices().nth(MAX_SHOWN_ID_CHARS) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

fn index_of(write_error: &Document) -> Option<usize> {
    match write_error.get("index")? {
        Bson::Int32(i) => usize::try_from(*i).ok(),
        Bson::Int64(i) => usize::try_from(*i).ok(),
        _ => None,
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
