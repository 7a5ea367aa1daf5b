//! Command dispatch: fail points first, then the command by name, then every reply gets
//! `$clusterTime` and `operationTime` as a replica-set member sends them.

mod admin;
mod aggregate;
mod args;
mod change_stream;
mod cluster_params;
mod handshake;
mod merge;
mod read;
mod read_concern;
mod write;
mod write_concern;

use crate::error::{CmdError, CmdResult};
use crate::server::{Connection, ServerState};
use bson::{doc, spec::BinarySubtype, Binary, Document};
use std::sync::Arc;

/// What the connection does with a command's result.
pub(crate) enum Outcome {
    Reply(Document),
    /// A fail point asked to drop the connection without replying.
    CloseConnection,
}

/// Runs one command from `conn` against database `db`.
pub(crate) async fn execute(
    state: &Arc<ServerState>,
    conn: &mut Connection,
    db: &str,
    cmd: Document,
) -> Outcome {
    let name = match cmd.keys().next() {
        Some(name) => name.clone(),
        None => {
            return Outcome::Reply(finish(
                state,
                Err(CmdError::failed_to_parse("empty command")),
            ))
        }
    };
    // Access control before fail points, as mongod checks authentication first.
    if let Err(e) = crate::auth::check(&state.users, &conn.auth, &name) {
        return Outcome::Reply(finish(state, Err(e)));
    }
    if let Ok(lsid) = cmd.get_document("lsid") {
        state.sessions.touch(lsid);
    }
    let mut write_concern_error = None;
    if let Some(action) = state
        .failpoints
        .check(&name, &cmd, conn.app_name.as_deref())
    {
        if let Some(block) = action.block {
            tokio::time::sleep(block).await;
        }
        if action.close_connection {
            return Outcome::CloseConnection;
        }
        if let Some(e) = action.error {
            return Outcome::Reply(finish(state, Err(e)));
        }
        write_concern_error = action.write_concern_error;
    }
    let result = if db.is_empty() {
        Err(CmdError::failed_to_parse(
            "OP_MSG requests require a $db argument",
        ))
    } else {
        dispatch(state, conn, db, &name, &cmd).await
    };
    let applied = result.is_ok();
    let mut reply = finish(state, result);
    if applied && write_concern_error.is_none() {
        write_concern_error = write_concern::unsatisfiable(&name, &cmd);
    }
    if let Some(wce) = write_concern_error {
        reply.insert("writeConcernError", wce);
    }
    Outcome::Reply(reply)
}

async fn dispatch(
    state: &Arc<ServerState>,
    conn: &mut Connection,
    db: &str,
    name: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    match name {
        "hello" | "isMaster" | "ismaster" => {
            let mut reply = handshake::hello(state, conn, cmd).await?;
            crate::auth::hello_fields(&state.users, &mut conn.auth, cmd, &mut reply);
            Ok(reply)
        }
        "ping" | "endSessions" | "killAllSessions" | "killSessions" | "refreshSessions" => {
            Ok(Document::new())
        }
        "buildInfo" | "buildinfo" => Ok(handshake::build_info()),
        "hostInfo" => Ok(handshake::host_info()),
        "replSetGetConfig" => handshake::repl_set_get_config(state, db),
        "getParameter" => handshake::get_parameter(cmd, &state.params.current()),
        "setParameter" => crate::params::set_parameter(&state.params, db, cmd),
        "setClusterParameter" => cluster_params::set(state, db, cmd),
        "getClusterParameter" => cluster_params::get(state, db, cmd),
        "whatsmyuri" => Ok(doc! { "you": "127.0.0.1:0" }),
        "connectionStatus" => Ok(crate::auth::connection_status(&conn.auth)),
        "saslStart" => crate::auth::sasl_start(&state.users, &mut conn.auth, db, cmd),
        "saslContinue" => crate::auth::sasl_continue(&state.users, &mut conn.auth, cmd),
        "authenticate" => Err(handshake::auth_unsupported()),
        "abortTransaction" | "commitTransaction" => Err(CmdError::new(
            crate::error::code::ILLEGAL_OPERATION,
            "IllegalOperation",
            "transactions are not supported by mongo-testbed",
        )),
        "configureFailPoint" => state.failpoints.configure(cmd),
        "insert" => write::insert(state, db, cmd),
        "update" => write::update(state, db, cmd),
        "delete" => write::delete(state, db, cmd),
        "findAndModify" | "findandmodify" => write::find_and_modify(state, db, cmd),
        "find" => read::find(state, db, cmd),
        "getMore" => read::get_more(state, db, cmd).await,
        "killCursors" => read::kill_cursors(state, db, cmd),
        "count" => read::count(state, db, cmd),
        "distinct" => read::distinct(state, db, cmd),
        "aggregate" => aggregate::aggregate(state, db, cmd).await,
        "collMod" => admin::coll_mod(state, db, cmd),
        "listDatabases" => admin::list_databases(state, cmd),
        "listCollections" => admin::list_collections(state, db, cmd),
        "create" => admin::create(state, db, cmd),
        "drop" => admin::drop(state, db, cmd),
        "dropDatabase" => admin::drop_database(state, db),
        "renameCollection" => admin::rename_collection(state, db, cmd),
        "listIndexes" => admin::list_indexes(state, db, cmd),
        "createIndexes" => admin::create_indexes(state, db, cmd),
        "dropIndexes" | "deleteIndexes" => admin::drop_indexes(state, db, cmd),
        other => Err(CmdError::command_not_found(other)),
    }
}

/// NotPrimaryError and ShutdownError codes: error replies carrying them get `topologyVersion`.
const NOT_PRIMARY_OR_SHUTDOWN_CODES: &[i32] = &[91, 189, 10058, 10107, 11600, 11602, 13435, 13436];

/// `ok`, `$clusterTime` and `operationTime` on every reply, success or error.
fn finish(state: &ServerState, result: CmdResult<Document>) -> Document {
    let mut reply = match result {
        Ok(mut body) => {
            if !body.contains_key("ok") {
                body.insert("ok", 1.0);
            }
            body
        }
        Err(e) => e.to_reply(),
    };
    if state.standalone {
        return reply; // a standalone mongod has no cluster time
    }
    if let Ok(code) = reply.get_i32("code") {
        if NOT_PRIMARY_OR_SHUTDOWN_CODES.contains(&code) {
            // As mongod does: drivers then see the error is not news (same topologyVersion as
            // their last `hello`) and keep the server selectable instead of rediscovering it.
            reply.insert(
                "topologyVersion",
                doc! { "processId": state.process_id, "counter": 0i64 },
            );
        }
    }
    let ts = state.store.cluster_time();
    reply.insert(
        "$clusterTime",
        doc! {
            "clusterTime": ts,
            "signature": { "hash": Binary { subtype: BinarySubtype::Generic, bytes: vec![0; 20] }, "keyId": 0i64 },
        },
    );
    reply.insert("operationTime", ts);
    reply
}
