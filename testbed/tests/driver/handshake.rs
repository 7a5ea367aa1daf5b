//! Handshake and wire-level behaviour: the official driver connects with replica-set discovery
//! and with `directConnection`, legacy OP_QUERY handshakes get an OP_REPLY, awaitable `hello`
//! waits, and a malformed message closes only its own connection.

use mongodb::bson::{doc, Bson, Document};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one reply: (opCode, responseTo, the first document).
async fn read_reply(s: &mut TcpStream) -> (i32, i32, Document) {
    let mut header = [0u8; 16];
    s.read_exact(&mut header).await.unwrap();
    let len = i32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    let response_to = i32::from_le_bytes(header[8..12].try_into().unwrap());
    let op = i32::from_le_bytes(header[12..16].try_into().unwrap());
    let mut body = vec![0u8; len - 16];
    s.read_exact(&mut body).await.unwrap();
    let doc_start = if op == 1 { 20 } else { 5 };
    (
        op,
        response_to,
        Document::from_reader(&body[doc_start..]).unwrap(),
    )
}

#[tokio::test]
async fn driver_connects_as_replica_set_member() {
    let tb = crate::support::start().await;
    assert!(tb.uri().ends_with("/?replicaSet=rs0"), "{}", tb.uri());
    let client = crate::support::client(&tb).await;
    let admin = client.database("admin");
    admin
        .run_command(doc! {"ping": 1})
        .await
        .expect("ping through discovery");
    let hello = admin.run_command(doc! {"hello": 1}).await.unwrap();
    let me = tb.addr().to_string();
    assert_eq!(hello.get_str("setName").unwrap(), "rs0");
    assert!(hello.get_bool("isWritablePrimary").unwrap());
    assert!(!hello.get_bool("secondary").unwrap());
    assert_eq!(hello.get_str("me").unwrap(), me);
    assert_eq!(hello.get_str("primary").unwrap(), me);
    assert_eq!(hello.get_array("hosts").unwrap(), &vec![Bson::String(me)]);
    assert_eq!(hello.get_i32("maxWireVersion").unwrap(), 25);
    assert_eq!(
        hello.get_i32("maxBsonObjectSize").unwrap(),
        16 * 1024 * 1024
    );
    assert!(
        hello.get("compression").is_none(),
        "compression is never advertised"
    );
    assert!(hello
        .get_document("topologyVersion")
        .unwrap()
        .get_object_id("processId")
        .is_ok());
    let ct = hello.get_document("$clusterTime").unwrap();
    assert!(ct.get_timestamp("clusterTime").is_ok());
    assert_eq!(
        ct.get_document("signature")
            .unwrap()
            .get_i64("keyId")
            .unwrap(),
        0
    );
    assert!(hello.get_timestamp("operationTime").is_ok());

    let legacy = admin.run_command(doc! {"isMaster": 1}).await.unwrap();
    assert!(legacy.get_bool("ismaster").unwrap());
    let build = admin.run_command(doc! {"buildInfo": 1}).await.unwrap();
    assert_eq!(build.get_str("version").unwrap(), "8.0.0");
}

#[tokio::test]
async fn driver_connects_directly() {
    let tb = crate::support::start().await;
    let client = crate::support::direct_client(&tb).await;
    let reply = client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("ping");
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0);
    let err = client
        .database("test")
        .run_command(doc! {"noSuchCommand": 1})
        .await
        .unwrap_err();
    match *err.kind {
        mongodb::error::ErrorKind::Command(ref e) => {
            assert_eq!((e.code, e.code_name.as_str()), (59, "CommandNotFound"))
        }
        ref other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn legacy_op_query_handshake_gets_op_reply() {
    let tb = crate::support::start().await;
    let mut s = TcpStream::connect(tb.addr()).await.unwrap();
    let mut msg = vec![0u8; 4];
    msg.extend(7i32.to_le_bytes());
    msg.extend(0i32.to_le_bytes());
    msg.extend(2004i32.to_le_bytes());
    msg.extend(0i32.to_le_bytes());
    msg.extend(b"admin.$cmd\0");
    msg.extend(0i32.to_le_bytes());
    msg.extend((-1i32).to_le_bytes());
    doc! {"isMaster": 1, "client": {"application": {"name": "legacy"}}}
        .to_writer(&mut msg)
        .unwrap();
    let len = msg.len() as i32;
    msg[0..4].copy_from_slice(&len.to_le_bytes());
    s.write_all(&msg).await.unwrap();
    let (op, response_to, reply) = read_reply(&mut s).await;
    assert_eq!((op, response_to), (1, 7));
    assert!(reply.get_bool("ismaster").unwrap());
    assert_eq!(reply.get_str("setName").unwrap(), "rs0");
}

#[tokio::test]
async fn malformed_or_oversized_messages_close_only_their_connection() {
    let tb = crate::support::start().await;
    let client = crate::support::direct_client(&tb).await;
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .unwrap();

    let mut bad = TcpStream::connect(tb.addr()).await.unwrap();
    let mut garbage = crate::support::op_msg(1, 0, &doc! {"ping": 1, "$db": "admin"});
    garbage[20] = 9; // unknown section kind
    bad.write_all(&garbage).await.unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        bad.read(&mut buf).await.unwrap(),
        0,
        "server closes the connection"
    );

    let mut huge = TcpStream::connect(tb.addr()).await.unwrap();
    let mut header = 60_000_000i32.to_le_bytes().to_vec();
    header.extend([0u8; 8]);
    header.extend(2013i32.to_le_bytes());
    huge.write_all(&header).await.unwrap();
    assert_eq!(
        huge.read(&mut buf).await.unwrap(),
        0,
        "oversized message closes the connection"
    );

    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("server still serves");
}

#[tokio::test]
async fn awaitable_hello_waits_for_max_await_time() {
    let tb = crate::support::start().await;
    let mut s = TcpStream::connect(tb.addr()).await.unwrap();
    s.write_all(&crate::support::op_msg(
        1,
        0,
        &doc! {"hello": 1, "$db": "admin"},
    ))
    .await
    .unwrap();
    let (_, _, first) = read_reply(&mut s).await;
    let tv = first.get_document("topologyVersion").unwrap().clone();
    let start = Instant::now();
    let awaitable =
        doc! {"hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 300i64, "$db": "admin"};
    s.write_all(&crate::support::op_msg(2, 1 << 16, &awaitable))
        .await
        .unwrap();
    let (_, response_to, reply) = read_reply(&mut s).await;
    assert_eq!(response_to, 2);
    assert!(reply.get_bool("isWritablePrimary").unwrap());
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "waited {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_connections_and_frees_the_port() {
    let tb = crate::support::start().await;
    let addr = tb.addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&crate::support::op_msg(
        1,
        0,
        &doc! {"ping": 1, "$db": "admin"},
    ))
    .await
    .unwrap();
    let (_, _, reply) = read_reply(&mut s).await;
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0);
    tb.shutdown().await;
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("closed promptly");
    assert!(matches!(closed, Ok(0) | Err(_)));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// `settings.replicaSetId` of `replSetGetConfig`, through the driver.
async fn replica_set_id(tb: &mongo_testbed::Testbed) -> mongodb::bson::oid::ObjectId {
    let client = crate::support::client(tb).await;
    let reply = client
        .database("admin")
        .run_command(doc! {"replSetGetConfig": 1})
        .await
        .unwrap();
    let config = reply.get_document("config").unwrap();
    assert_eq!(config.get_str("_id").unwrap(), "rs0");
    assert_eq!(config.get_array("members").unwrap().len(), 1);
    config
        .get_document("settings")
        .unwrap()
        .get_object_id("replicaSetId")
        .unwrap()
}

/// The replica set id tells apart two sets of the same name and survives a restart on the same
/// `--dbpath`, as mongod's (made at `rs.initiate()`, kept in its config).
#[tokio::test]
async fn repl_set_get_config_has_a_replica_set_id_kept_per_dbpath() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica_set_id(&crate::support::start_on(dir.path().to_path_buf()).await).await;
    let again = replica_set_id(&crate::support::start_on(dir.path().to_path_buf()).await).await;
    assert_eq!(first, again, "a restart on the same dbpath keeps the id");
    let other = replica_set_id(&crate::support::start().await).await;
    let another = replica_set_id(&crate::support::start().await).await;
    assert_ne!(other, first, "another set of the same name has its own id");
    assert_ne!(other, another);
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let err = client
        .database("test")
        .run_command(doc! {"replSetGetConfig": 1})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin database"), "{err}");
}
