//! Handshake and server-information commands: `hello` (as the primary of a one-member replica
//! set, including the awaitable form monitors use), `buildInfo`, `hostInfo`, `getParameter`, `replSetGetConfig`.

use super::args;
use crate::error::{CmdError, CmdResult};
use crate::server::{Connection, ServerState};
use bson::{doc, Bson, DateTime, Document};
use std::sync::Arc;
use std::time::Duration;

/// Version reported by `buildInfo`; `maxWireVersion` 25 is the 8.0 wire version.
const VERSION: &str = "8.0.0";
const MAX_WIRE_VERSION: i32 = 25;

/// `hello` / `isMaster`. With `topologyVersion` + `maxAwaitTimeMS` (a driver's streaming
/// monitor) the reply is held until `maxAwaitTimeMS` passes or the server shuts down, since our
/// topology never changes; replying at once would make the monitor spin.
pub(super) async fn hello(
    state: &Arc<ServerState>,
    conn: &mut Connection,
    cmd: &Document,
) -> CmdResult<Document> {
    if let Ok(name) = cmd
        .get_document("client")
        .and_then(|c| c.get_document("application"))
        .and_then(|a| a.get_str("name"))
    {
        conn.app_name = Some(name.to_string());
    }
    if let (Ok(tv), Some(wait_ms)) = (
        cmd.get_document("topologyVersion"),
        args::opt_i64(cmd, "maxAwaitTimeMS")?,
    ) {
        let same_process = tv.get_object_id("processId").ok() == Some(state.process_id);
        if same_process && wait_ms > 0 {
            let mut shutdown = state.shutdown.clone();
            let wait = tokio::time::sleep(Duration::from_millis(wait_ms as u64));
            tokio::select! {
                _ = wait => {}
                _ = shutdown.wait_for(|stopping| *stopping) => {}
            }
        }
    }
    let ts = state.store.cluster_time();
    let now = DateTime::now();
    let op_time = doc! { "ts": ts, "t": 1i64 };
    let mut reply = doc! {
        "topologyVersion": { "processId": state.process_id, "counter": 0i64 },
        "hosts": [state.me.clone()],
        "setName": state.replset.clone(),
        "setVersion": 1,
        "isWritablePrimary": true,
        "secondary": false,
        "primary": state.me.clone(),
        "me": state.me.clone(),
        "electionId": state.election_id,
        "lastWrite": {
            "opTime": op_time.clone(),
            "lastWriteDate": now,
            "majorityOpTime": op_time,
            "majorityWriteDate": now,
        },
        "maxBsonObjectSize": crate::wire::MAX_BSON_SIZE as i32,
        "maxMessageSizeBytes": crate::wire::MAX_MESSAGE_SIZE as i32,
        "maxWriteBatchSize": 100_000,
        "localTime": now,
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": conn.id,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": false,
    };
    // Legacy `isMaster` answers with `ismaster`; `hello` with `isWritablePrimary`.
    if !cmd.contains_key("hello") {
        reply.remove("isWritablePrimary");
        reply.insert("ismaster", true);
    }
    if state.standalone {
        for key in [
            "hosts",
            "setName",
            "setVersion",
            "secondary",
            "primary",
            "me",
            "electionId",
            "lastWrite",
        ] {
            reply.remove(key);
        }
    }
    if args::flag(cmd, "helloOk") {
        reply.insert("helloOk", true);
    }
    Ok(reply)
}

pub(super) fn build_info() -> Document {
    doc! {
        "version": VERSION,
        "gitVersion": "mongo-testbed",
        "versionArray": [8, 0, 0, 0],
        "bits": 64,
        "debug": false,
        "maxBsonObjectSize": crate::wire::MAX_BSON_SIZE as i32,
        "storageEngines": ["mongo-testbed"],
        "modules": [],
    }
}

pub(super) fn host_info() -> Document {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as i32)
        .unwrap_or(1);
    doc! {
        "system": {
            "currentTime": DateTime::now(),
            "hostname": "localhost",
            "cpuAddrSize": 64,
            "numCores": cores,
            "cpuArch": std::env::consts::ARCH,
        },
        "os": { "type": std::env::consts::OS },
        "extra": {},
    }
}

/// `getParameter`: a few well-known parameters; `{getParameter: "*"}` returns them all.
/// `settable` are the parameters `setParameter` changes, at their current values.
pub(super) fn get_parameter(cmd: &Document, settable: &Document) -> CmdResult<Document> {
    let mut known = doc! {
        "featureCompatibilityVersion": { "version": "8.0" },
        "authenticationMechanisms": [],
        "transactionLifetimeLimitSeconds": 60,
        "internalQueryMaxBlockingSortMemoryUsageBytes": 104_857_600,
    };
    known.extend(settable.clone());
    let all = matches!(cmd.get("getParameter"), Some(Bson::String(s)) if s == "*");
    let mut reply = Document::new();
    for (k, v) in &known {
        if all || cmd.contains_key(k) {
            reply.insert(k.clone(), v.clone());
        }
    }
    if reply.is_empty() {
        return Err(CmdError::bad_value("no option found to get"));
    }
    Ok(reply)
}

/// Authentication is out of scope: clients that try it get a clear error.
pub(super) fn auth_unsupported() -> CmdError {
    CmdError::new(
        18,
        "AuthenticationFailed",
        "mongo-testbed does not support authentication",
    )
}

/// `replSetGetConfig` (admin only), as mongod answers for a one-member set: `settings.replicaSetId`
/// is the ObjectId made when the set was initiated (kept in `--dbpath`, new per instance without
/// one). A standalone answers `NoReplicationEnabled` (76).
pub(super) fn repl_set_get_config(state: &ServerState, db: &str) -> CmdResult<Document> {
    if db != "admin" {
        return Err(CmdError::new(
            13,
            "Unauthorized",
            "replSetGetConfig may only be run against the admin database.",
        ));
    }
    if state.standalone {
        return Err(CmdError::new(
            76,
            "NoReplicationEnabled",
            "not running with --replSet",
        ));
    }
    Ok(doc! {
        "config": {
            "_id": state.replset.clone(),
            "version": 1,
            "term": 1i64,
            "members": [{
                "_id": 0,
                "host": state.me.clone(),
                "arbiterOnly": false,
                "buildIndexes": true,
                "hidden": false,
                "priority": 1.0,
                "tags": {},
                "secondaryDelaySecs": 0i64,
                "votes": 1,
            }],
            "protocolVersion": 1i64,
            "writeConcernMajorityJournalDefault": true,
            "settings": {
                "chainingAllowed": true,
                "heartbeatIntervalMillis": 2000,
                "heartbeatTimeoutSecs": 10,
                "electionTimeoutMillis": 10000,
                "catchUpTimeoutMillis": -1,
                "catchUpTakeoverDelayMillis": 30000,
                "getLastErrorModes": {},
                "getLastErrorDefaults": {"w": 1, "wtimeout": 0},
                "replicaSetId": state.replica_set_id,
            },
        },
    })
}
