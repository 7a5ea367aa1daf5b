//! Authentication as mongod does it with `authenticationMechanisms=SCRAM-SHA-256`: users live
//! in the `admin` database, clients authenticate with `saslStart`/`saslContinue` (or
//! speculatively inside `hello`), and once any user is configured every other command from an
//! unauthenticated connection fails with `Unauthorized` (13). With no users, every client is
//! accepted as before, and authentication attempts fail as they would for an unknown user.
//!
//! Authorization is all-or-nothing: an authenticated user may run every command (as `root`).

mod scram;

use crate::error::{CmdError, CmdResult};
use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use scram::{Conversation, StoredCredential};
use std::collections::HashMap;

/// The only mechanism offered.
const MECHANISM: &str = "SCRAM-SHA-256";
/// The database users are defined in (clients use `authSource=admin`, the default).
const USER_DB: &str = "admin";
/// mongod numbers every connection's SASL conversation 1.
const CONVERSATION_ID: i32 = 1;

const UNAUTHORIZED: i32 = 13;
const PROTOCOL_ERROR: i32 = 17;
const AUTHENTICATION_FAILED: i32 = 18;
const MECHANISM_UNAVAILABLE: i32 = 334;

/// Commands mongod runs without authentication (`requiresAuth() == false`).
const OPEN_COMMANDS: &[&str] = &[
    "hello",
    "isMaster",
    "ismaster",
    "ping",
    "buildInfo",
    "buildinfo",
    "saslStart",
    "saslContinue",
    "authenticate",
    "logout",
    "connectionStatus",
];

/// The configured users and their SCRAM-SHA-256 credentials (never the passwords).
#[derive(Debug, Default)]
pub(crate) struct Users {
    credentials: HashMap<String, StoredCredential>,
}

impl Users {
    /// Derives the credentials of `users` (`(name, password)` pairs). Fails on an empty name or
    /// a password outside printable ASCII (see [`scram`] on SASLprep).
    pub(crate) fn new(users: &[(String, String)]) -> Result<Self, String> {
        let mut credentials = HashMap::new();
        for (name, password) in users {
            if name.is_empty() {
                return Err("user name must not be empty".into());
            }
            let credential =
                StoredCredential::new(password).map_err(|e| format!("user {name:?}: {e}"))?;
            credentials.insert(name.clone(), credential);
        }
        Ok(Users { credentials })
    }

    /// Whether access control is on.
    pub(crate) fn enabled(&self) -> bool {
        !self.credentials.is_empty()
    }

    fn lookup(&self, db: &str, user: &str) -> Option<&StoredCredential> {
        (db == USER_DB)
            .then(|| self.credentials.get(user))
            .flatten()
    }
}

/// Per-connection authentication state.
#[derive(Debug, Default)]
pub(crate) struct ConnAuth {
    /// `(user, db)` once authenticated.
    user: Option<(String, String)>,
    pending: Option<Pending>,
}

/// A conversation between `saslStart` and the last `saslContinue`.
#[derive(Debug)]
struct Pending {
    user: String,
    db: String,
    /// `None` until the proof has been checked (then only the empty final exchange remains).
    scram: Option<Conversation>,
    skip_empty_exchange: bool,
}

fn failed() -> CmdError {
    CmdError::new(
        AUTHENTICATION_FAILED,
        "AuthenticationFailed",
        "Authentication failed.",
    )
}

fn mechanism_unavailable(msg: String) -> CmdError {
    CmdError::new(MECHANISM_UNAVAILABLE, "MechanismUnavailable", msg)
}

fn protocol_error(msg: &str) -> CmdError {
    CmdError::new(PROTOCOL_ERROR, "ProtocolError", msg)
}

/// Refuses `name` with `Unauthorized` when access control is on and `conn` is not
/// authenticated.
pub(crate) fn check(users: &Users, conn: &ConnAuth, name: &str) -> CmdResult<()> {
    if !users.enabled() || conn.user.is_some() || OPEN_COMMANDS.contains(&name) {
        return Ok(());
    }
    Err(CmdError::new(
        UNAUTHORIZED,
        "Unauthorized",
        format!("Command {name} requires authentication"),
    ))
}

/// `saslStart` on database `db`.
pub(crate) fn sasl_start(
    users: &Users,
    conn: &mut ConnAuth,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    conn.pending = None;
    let mechanism = cmd
        .get_str("mechanism")
        .map_err(|_| CmdError::bad_value("saslStart requires a string 'mechanism'"))?;
    if mechanism != MECHANISM && mechanism != "SCRAM-SHA-1" {
        return Err(mechanism_unavailable(format!(
            "Received authentication for mechanism {mechanism} which is not enabled"
        )));
    }
    let payload = payload(cmd)?;
    let message = std::str::from_utf8(payload).map_err(|_| failed())?;
    let client_first = scram::parse_client_first(message).map_err(|e| {
        tracing::debug!(error = %e, "saslStart rejected");
        failed()
    })?;
    let user = client_first.user.clone();
    let credential = users.lookup(db, &user).ok_or_else(|| {
        tracing::debug!(user, db, "saslStart for an unknown user");
        failed()
    })?;
    // Users have SCRAM-SHA-256 credentials only; an unknown user is still reported as a plain
    // authentication failure above, as mongod does, so a typo'd name reads as such.
    if mechanism != MECHANISM {
        return Err(mechanism_unavailable(format!(
            "Unable to use {mechanism} based authentication for user without any {mechanism} credentials registered"
        )));
    }
    let (scram, server_first) = Conversation::start(client_first, credential);
    let skip_empty_exchange = cmd
        .get_document("options")
        .ok()
        .and_then(|o| o.get("skipEmptyExchange"))
        .is_some_and(truthy);
    conn.pending = Some(Pending {
        user,
        db: db.to_string(),
        scram: Some(scram),
        skip_empty_exchange,
    });
    Ok(sasl_reply(false, server_first.into_bytes()))
}

/// `saslContinue`: checks the client proof (replying with the server signature), then, unless
/// the client asked for `skipEmptyExchange`, one more empty round trip ends the conversation.
pub(crate) fn sasl_continue(
    users: &Users,
    conn: &mut ConnAuth,
    cmd: &Document,
) -> CmdResult<Document> {
    let pending = conn
        .pending
        .take()
        .ok_or_else(|| protocol_error("No SASL session state found"))?;
    match cmd.get("conversationId") {
        Some(id) if id.as_i32() == Some(CONVERSATION_ID) || id.as_i64() == Some(1) => {}
        _ => return Err(protocol_error("sasl: Mismatched conversation id")),
    }
    let payload = payload(cmd)?;
    let Some(scram) = pending.scram.as_ref() else {
        // The empty exchange after the server signature.
        conn.user = Some((pending.user, pending.db));
        return Ok(sasl_reply(true, Vec::new()));
    };
    let credential = users
        .lookup(&pending.db, &pending.user)
        .ok_or_else(failed)?;
    let message = std::str::from_utf8(payload).map_err(|_| failed())?;
    let server_final = scram.finish(message, credential).map_err(|e| {
        tracing::debug!(user = pending.user, error = %e, "authentication failed");
        failed()
    })?;
    if pending.skip_empty_exchange {
        conn.user = Some((pending.user, pending.db));
        return Ok(sasl_reply(true, server_final.into_bytes()));
    }
    conn.pending = Some(Pending {
        scram: None,
        ..pending
    });
    Ok(sasl_reply(false, server_final.into_bytes()))
}

/// The `hello` additions: `saslSupportedMechs` for `"db.user"` when the user exists, and the
/// first SCRAM step of `speculativeAuthenticate` (omitted when it fails, as mongod does; the
/// client then authenticates explicitly and gets the real error).
pub(crate) fn hello_fields(
    users: &Users,
    conn: &mut ConnAuth,
    cmd: &Document,
    reply: &mut Document,
) {
    if let Ok(db_user) = cmd.get_str("saslSupportedMechs") {
        if let Some((db, user)) = db_user.split_once('.') {
            if users.lookup(db, user).is_some() {
                reply.insert("saslSupportedMechs", vec![MECHANISM]);
            }
        }
    }
    if let Ok(spec) = cmd.get_document("speculativeAuthenticate") {
        if !spec.contains_key("saslStart") {
            return;
        }
        let db = spec.get_str("db").unwrap_or(USER_DB).to_string();
        if let Ok(first) = sasl_start(users, conn, &db, spec) {
            reply.insert("speculativeAuthenticate", first);
        }
    }
}

/// `connectionStatus`: who this connection is authenticated as.
pub(crate) fn connection_status(conn: &ConnAuth) -> Document {
    let (users, roles): (Vec<Document>, Vec<Document>) = match &conn.user {
        Some((user, db)) => (
            vec![doc! { "user": user, "db": db }],
            vec![doc! { "role": "root", "db": USER_DB }],
        ),
        None => (Vec::new(), Vec::new()),
    };
    doc! { "authInfo": { "authenticatedUsers": users, "authenticatedUserRoles": roles } }
}

fn payload(cmd: &Document) -> CmdResult<&[u8]> {
    match cmd.get("payload") {
        Some(Bson::Binary(b)) => Ok(&b.bytes),
        _ => Err(CmdError::bad_value("SASL payload must be BinData")),
    }
}

fn sasl_reply(done: bool, payload: Vec<u8>) -> Document {
    doc! {
        "conversationId": CONVERSATION_ID,
        "done": done,
        "payload": Binary { subtype: BinarySubtype::Generic, bytes: payload },
    }
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        _ => false,
    }
}
