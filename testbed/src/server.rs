//! The server loop: one tokio task per connection, buffered reads, one write per reply. A bad
//! message or a fail point closes that connection only; nothing a client does stops the server.

use crate::commands::{self, Outcome};
use crate::cursor::Registry;
use crate::failpoint::FailPoints;
use crate::sessions::Sessions;
use crate::store::Store;
use crate::wire::{self, Header, Request};
use bson::oid::ObjectId;
use bson::Document;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Everything the commands share.
pub(crate) struct ServerState {
    pub store: Arc<Store>,
    pub cursors: Registry,
    pub failpoints: FailPoints,
    pub sessions: Sessions,
    pub replset: String,
    /// Answer `hello` as a standalone mongod (no replica set: no change streams).
    pub standalone: bool,
    /// `host:port` advertised in `hello` (`me`, `hosts`, `primary`).
    pub me: String,
    /// `topologyVersion.processId`: new on every start, as on a real server.
    pub process_id: ObjectId,
    pub election_id: ObjectId,
    /// `settings.replicaSetId` of `replSetGetConfig`: made once per set (per `--dbpath`).
    pub replica_set_id: ObjectId,
    next_connection_id: AtomicI64,
    next_request_id: AtomicI32,
    /// Flips to true on shutdown; long waits (awaitable `hello`) listen to it.
    pub shutdown: watch::Receiver<bool>,
    /// Configured users (auth): none means access control is off.
    pub users: crate::auth::Users,
    /// `setParameter` / `getParameter` values (the TTL monitor reads them).
    pub params: Arc<crate::params::Parameters>,
}

impl ServerState {
    pub(crate) fn new(
        store: Arc<Store>,
        replset: String,
        me: String,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        ServerState {
            store,
            cursors: Registry::default(),
            failpoints: FailPoints::default(),
            sessions: Sessions::default(),
            replset,
            standalone: false,
            me,
            process_id: ObjectId::new(),
            election_id: ObjectId::from_bytes([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]),
            replica_set_id: ObjectId::new(),
            next_connection_id: AtomicI64::new(0),
            next_request_id: AtomicI32::new(0),
            shutdown,
            users: Default::default(),
            params: Arc::new(crate::params::Parameters::new(
                crate::params::DEFAULT_TTL_MONITOR_SLEEP_SECS,
            )),
        }
    }
}

/// What the server knows about one client connection.
pub(crate) struct Connection {
    pub id: i64,
    /// `client.application.name` from the handshake (fail points can target it).
    pub app_name: Option<String>,
    /// Who this connection authenticated as, and any SASL conversation in progress.
    pub auth: crate::auth::ConnAuth,
}

/// Accepts connections until `shutdown` flips, then aborts and awaits every connection task.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    tasks.spawn(handle_connection(socket, state.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.shutdown().await;
}

async fn handle_connection(socket: TcpStream, state: Arc<ServerState>) {
    let id = state.next_connection_id.fetch_add(1, Ordering::Relaxed) + 1;
    let mut conn = Connection {
        id,
        app_name: None,
        auth: Default::default(),
    };
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    if let Err(e) = connection_loop(&mut read, &mut write, &mut conn, &state).await {
        tracing::debug!(connection = id, error = %e, "connection closed");
    }
}

async fn connection_loop(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    conn: &mut Connection,
    state: &Arc<ServerState>,
) -> std::io::Result<()> {
    let mut header_bytes = [0u8; Header::LEN];
    let mut body = Vec::new();
    loop {
        match read.read_exact(&mut header_bytes).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let header = Header::parse(&header_bytes);
        let len = header.body_len()?;
        body.resize(len, 0);
        read.read_exact(&mut body).await?;
        let request = wire::parse_request(header.op_code, &body)?;
        let (db, command, more_to_come, legacy) = match request {
            Request::Msg {
                mut command,
                more_to_come,
            } => {
                let db = match command.remove("$db") {
                    Some(bson::Bson::String(db)) => db,
                    _ => String::new(),
                };
                (db, command, more_to_come, false)
            }
            Request::Query { db, command } => (db, command, false, true),
        };
        let reply = match commands::execute(state, conn, &db, command).await {
            Outcome::Reply(reply) => reply,
            Outcome::CloseConnection => return Ok(()),
        };
        if more_to_come {
            continue;
        }
        let bytes = encode(state, header.request_id, &reply, legacy)?;
        write.write_all(&bytes).await?;
    }
}

fn encode(
    state: &ServerState,
    response_to: i32,
    reply: &Document,
    legacy: bool,
) -> std::io::Result<Vec<u8>> {
    let request_id = state.next_request_id.fetch_add(1, Ordering::Relaxed) + 1;
    if legacy {
        wire::encode_op_reply(request_id, response_to, reply)
    } else {
        wire::encode_msg_reply(request_id, response_to, reply)
    }
}
