//! Shared helpers for the driver integration tests: start a testbed on a free port, connect the
//! official driver to it, toggle fail points, wait for conditions.

use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub async fn start() -> Testbed {
    start_with(TestbedOptions::default()).await
}

pub async fn start_with(options: TestbedOptions) -> Testbed {
    Testbed::start(options).await.expect("testbed starts")
}

pub async fn start_on(dbpath: PathBuf) -> Testbed {
    start_with(TestbedOptions {
        dbpath: Some(dbpath),
        ..TestbedOptions::default()
    })
    .await
}

/// A driver client through replica-set discovery (`?replicaSet=rs0`).
pub async fn client(tb: &Testbed) -> Client {
    client_for(&tb.uri()).await
}

pub async fn client_for(uri: &str) -> Client {
    let mut opts = ClientOptions::parse(uri).await.expect("valid uri");
    opts.server_selection_timeout = Some(Duration::from_secs(5));
    opts.heartbeat_freq = Some(Duration::from_millis(500));
    Client::with_options(opts).expect("client")
}

/// A driver client with `directConnection=true` (no discovery).
pub async fn direct_client(tb: &Testbed) -> Client {
    client_for(&format!("mongodb://{}/?directConnection=true", tb.addr())).await
}

pub async fn fail_point(client: &Client, mode: mongodb::bson::Bson, data: Document) {
    client
        .database("admin")
        .run_command(doc! { "configureFailPoint": "failCommand", "mode": mode, "data": data })
        .await
        .expect("configureFailPoint");
}

pub async fn fail_point_off(client: &Client) {
    client
        .database("admin")
        .run_command(doc! { "configureFailPoint": "failCommand", "mode": "off" })
        .await
        .expect("configureFailPoint off");
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Sends one command over a fresh socket as OP_MSG and returns the whole reply document, error
/// replies included (the driver turns those into errors and drops fields such as
/// `topologyVersion` or `errInfo` details the tests check).
pub async fn raw_command(addr: std::net::SocketAddr, db: &str, mut cmd: Document) -> Document {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    cmd.insert("$db", db);
    let mut msg = vec![0u8; 4];
    msg.extend(1i32.to_le_bytes()); // requestID
    msg.extend(0i32.to_le_bytes()); // responseTo
    msg.extend(2013i32.to_le_bytes()); // OP_MSG
    msg.extend(0u32.to_le_bytes()); // flags
    msg.push(0); // body section
    cmd.to_writer(&mut msg).unwrap();
    let len = msg.len() as i32;
    msg[0..4].copy_from_slice(&len.to_le_bytes());
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&msg).await.unwrap();
    let mut header = [0u8; 16];
    s.read_exact(&mut header).await.unwrap();
    let len = i32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len - 16];
    s.read_exact(&mut body).await.unwrap();
    Document::from_reader(&body[5..]).unwrap()
}

/// One OP_MSG frame (opcode 2013) with a single body section, for raw-wire tests.
pub fn op_msg(request_id: i32, flags: u32, body: &Document) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    out.extend(request_id.to_le_bytes());
    out.extend(0i32.to_le_bytes());
    out.extend(2013i32.to_le_bytes());
    out.extend(flags.to_le_bytes());
    out.push(0);
    body.to_writer(&mut out).unwrap();
    let len = out.len() as i32;
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// The `listCollections` entry of `name` (`{name, type, options, info, idIndex?}`).
pub async fn collection_info(db: &mongodb::Database, name: &str) -> Document {
    let reply = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": name}})
        .await
        .expect("listCollections");
    let batch = reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .expect("a cursor reply");
    batch
        .first()
        .and_then(|d| d.as_document())
        .cloned()
        .unwrap_or_else(|| panic!("no collection {name}"))
}

/// Every collection of `db` as the driver parses `listCollections`.
pub async fn collection_specs(
    db: &mongodb::Database,
) -> Vec<mongodb::results::CollectionSpecification> {
    use futures::TryStreamExt;
    let cursor = db.list_collections().await.expect("listCollections");
    cursor.try_collect().await.expect("listCollections batches")
}
