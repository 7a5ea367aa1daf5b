//! Authentication: the official driver authenticates with SCRAM-SHA-256 (speculatively, inside
//! `hello`), a wrong password fails with AuthenticationFailed (18), unauthenticated commands
//! fail with Unauthorized (13) once users are configured, and without users the testbed stays
//! open. The raw-wire tests drive the SASL conversation by hand to pin the reply shapes.

mod support;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use mongodb::error::ErrorKind;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret:pw";

async fn start_with_user() -> Testbed {
    support::start_with(TestbedOptions {
        users: vec![(USER.into(), PASSWORD.into())],
        ..TestbedOptions::default()
    })
    .await
}

/// A connection string with credentials (the password percent-encoded where it must be).
fn uri_with(tb: &Testbed, user: &str, password: &str, extra: &str) -> String {
    let password = password.replace('%', "%25").replace(':', "%3A");
    format!(
        "mongodb://{user}:{password}@{}/?replicaSet=rs0&authSource=admin{extra}",
        tb.addr()
    )
}

/// The code of the server error behind a driver error (auth errors carry it as their source).
fn server_code(err: &mongodb::error::Error) -> Option<i32> {
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = current {
        let driver_error = e
            .downcast_ref::<mongodb::error::Error>()
            .or_else(|| e.downcast_ref::<Box<mongodb::error::Error>>().map(|b| &**b));
        if let Some(ErrorKind::Command(c)) = driver_error.map(|e| e.kind.as_ref()) {
            return Some(c.code);
        }
        current = e.source();
    }
    None
}

#[tokio::test]
async fn driver_authenticates_speculatively() {
    let tb = start_with_user().await;
    let admin_client = support::client_for(&uri_with(&tb, USER, PASSWORD, "")).await;
    // Any explicit saslStart from the second client fails: it can only get in through the
    // speculative first step inside `hello`.
    support::fail_point(
        &admin_client,
        Bson::String("alwaysOn".into()),
        doc! { "failCommands": ["saslStart"], "errorCode": 18, "appName": "spec" },
    )
    .await;
    let client = support::client_for(&uri_with(&tb, USER, PASSWORD, "&appName=spec")).await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! { "_id": 1, "x": "a" })
        .await
        .expect("authenticated insert");
    let found = coll.find_one(doc! { "_id": 1 }).await.unwrap().unwrap();
    assert_eq!(found.get_str("x").unwrap(), "a");
    let status = client
        .database("admin")
        .run_command(doc! { "connectionStatus": 1 })
        .await
        .unwrap();
    let users = status
        .get_document("authInfo")
        .unwrap()
        .get_array("authenticatedUsers")
        .unwrap();
    assert_eq!(
        users,
        &vec![Bson::Document(doc! { "user": USER, "db": "admin" })]
    );
    support::fail_point_off(&admin_client).await;
}

#[tokio::test]
async fn wrong_password_fails_with_18() {
    let tb = start_with_user().await;
    for uri in [
        uri_with(&tb, USER, "wrong", ""),
        uri_with(&tb, "nobody", PASSWORD, ""),
        uri_with(&tb, USER, "wrong", "&authMechanism=SCRAM-SHA-256"),
    ] {
        let client = support::client_for(&uri).await;
        let err = client
            .database("app")
            .collection::<Document>("c")
            .insert_one(doc! { "x": 1 })
            .await
            .expect_err("wrong credentials");
        assert!(
            matches!(*err.kind, ErrorKind::Authentication { .. }),
            "{uri}: {err}"
        );
        assert!(err.to_string().contains("Authentication failed."), "{err}");
        // (An unknown user gets no saslSupportedMechs, so the driver falls back to SCRAM-SHA-1:
        // still a plain authentication failure.)
        assert_eq!(server_code(&err), Some(18), "{uri}: {err}");
    }
}

#[tokio::test]
async fn unauthenticated_commands_fail_with_13() {
    let tb = start_with_user().await;
    let client = support::client(&tb).await;
    let admin = client.database("admin");
    admin
        .run_command(doc! { "ping": 1 })
        .await
        .expect("ping needs no auth");
    let err = client
        .database("app")
        .collection::<Document>("c")
        .find_one(doc! {})
        .await
        .expect_err("find needs auth");
    match *err.kind {
        ErrorKind::Command(ref c) => {
            assert_eq!(c.code, 13);
            assert_eq!(c.code_name, "Unauthorized");
            assert_eq!(c.message, "Command find requires authentication");
        }
        ref other => panic!("expected a command error, got {other:?}"),
    }
}

#[tokio::test]
async fn without_users_the_testbed_is_open() {
    let tb = support::start().await;
    let client = support::client(&tb).await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! { "_id": 1 })
        .await
        .expect("open insert");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    // Credentials against a server without that user fail as on mongod.
    let with_creds = support::client_for(&uri_with(&tb, USER, PASSWORD, "")).await;
    let err = with_creds
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .expect_err("no such user");
    assert!(
        matches!(*err.kind, ErrorKind::Authentication { .. }),
        "{err}"
    );
}

// ---- raw wire: the SASL conversation step by step ----

struct Wire {
    stream: TcpStream,
    next_id: i32,
}

impl Wire {
    async fn connect(tb: &Testbed) -> Wire {
        Wire {
            stream: TcpStream::connect(tb.addr()).await.unwrap(),
            next_id: 1,
        }
    }

    /// Runs one OP_MSG command against `db` and returns the reply document.
    async fn run(&mut self, db: &str, mut cmd: Document) -> Document {
        cmd.insert("$db", db);
        let mut out = vec![0u8; 4];
        out.extend(self.next_id.to_le_bytes());
        self.next_id += 1;
        out.extend(0i32.to_le_bytes());
        out.extend(2013i32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.push(0);
        cmd.to_writer(&mut out).unwrap();
        let len = out.len() as i32;
        out[0..4].copy_from_slice(&len.to_le_bytes());
        self.stream.write_all(&out).await.unwrap();
        let mut header = [0u8; 16];
        self.stream.read_exact(&mut header).await.unwrap();
        let len = i32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
        let mut body = vec![0u8; len - 16];
        self.stream.read_exact(&mut body).await.unwrap();
        Document::from_reader(&body[5..]).unwrap()
    }
}

fn bin(bytes: impl Into<Vec<u8>>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.into(),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A minimal SCRAM-SHA-256 client (RFC 5802), independent of the server code.
struct ScramClient {
    bare: String,
    nonce: String,
}

impl ScramClient {
    fn new(user: &str) -> ScramClient {
        let nonce = "fyko+d2lbbFgONRv9qkxdawL".to_string();
        ScramClient {
            bare: format!("n={user},r={nonce}"),
            nonce,
        }
    }

    fn first(&self) -> Vec<u8> {
        format!("n,,{}", self.bare).into_bytes()
    }

    /// client-final for `server_first`, plus the server signature the server must send.
    fn last(&self, server_first: &[u8], password: &str) -> (Vec<u8>, String) {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let parts: Vec<&str> = server_first.split(',').collect();
        let nonce = parts[0].strip_prefix("r=").unwrap();
        assert!(nonce.starts_with(&self.nonce) && nonce.len() > self.nonce.len());
        let salt = B64.decode(parts[1].strip_prefix("s=").unwrap()).unwrap();
        let iterations: u32 = parts[2].strip_prefix("i=").unwrap().parse().unwrap();
        assert_eq!(iterations, 15_000);
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_signature = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
        (
            format!("{without_proof},p={}", B64.encode(proof)).into_bytes(),
            format!("v={}", B64.encode(server_signature)),
        )
    }
}

fn payload(reply: &Document) -> Vec<u8> {
    match reply.get("payload") {
        Some(Bson::Binary(b)) if b.subtype == BinarySubtype::Generic => b.bytes.clone(),
        other => panic!("payload must be BinData subtype 0, got {other:?} in {reply}"),
    }
}

fn assert_step(reply: &Document, done: bool) {
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0, "{reply}");
    assert_eq!(reply.get_i32("conversationId").unwrap(), 1, "{reply}");
    assert_eq!(reply.get_bool("done").unwrap(), done, "{reply}");
}

#[tokio::test]
async fn sasl_conversation_with_empty_exchange() {
    let tb = start_with_user().await;
    let mut wire = Wire::connect(&tb).await;
    let hello = wire
        .run(
            "admin",
            doc! { "hello": 1, "saslSupportedMechs": "admin.alice" },
        )
        .await;
    assert_eq!(
        hello.get_array("saslSupportedMechs").unwrap(),
        &vec![Bson::String("SCRAM-SHA-256".into())]
    );
    let hello = wire
        .run(
            "admin",
            doc! { "hello": 1, "saslSupportedMechs": "admin.nobody" },
        )
        .await;
    assert!(!hello.contains_key("saslSupportedMechs"), "{hello}");
    let denied = wire.run("app", doc! { "find": "c" }).await;
    assert_eq!(denied.get_i32("code").unwrap(), 13, "{denied}");

    let scram = ScramClient::new(USER);
    let first = wire
        .run(
            "admin",
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(scram.first()) },
        )
        .await;
    assert_step(&first, false);
    let (last, expected_signature) = scram.last(&payload(&first), PASSWORD);
    let second = wire
        .run(
            "admin",
            doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(last) },
        )
        .await;
    assert_step(&second, false);
    assert_eq!(payload(&second), expected_signature.into_bytes());
    // Not authenticated until the final empty exchange.
    let denied = wire.run("app", doc! { "find": "c" }).await;
    assert_eq!(denied.get_i32("code").unwrap(), 13, "{denied}");
    let third = wire
        .run(
            "admin",
            doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(Vec::new()) },
        )
        .await;
    assert_step(&third, true);
    assert!(payload(&third).is_empty());
    let found = wire.run("app", doc! { "find": "c" }).await;
    assert_eq!(found.get_f64("ok").unwrap(), 1.0, "{found}");
}

#[tokio::test]
async fn speculative_authenticate_in_hello() {
    let tb = start_with_user().await;
    let mut wire = Wire::connect(&tb).await;
    let scram = ScramClient::new(USER);
    let hello = wire
        .run(
            "admin",
            doc! {
                "hello": 1,
                "speculativeAuthenticate": {
                    "saslStart": 1,
                    "mechanism": "SCRAM-SHA-256",
                    "payload": bin(scram.first()),
                    "options": { "skipEmptyExchange": true },
                    "db": "admin",
                },
            },
        )
        .await;
    let spec = hello.get_document("speculativeAuthenticate").unwrap();
    assert_eq!(spec.get_i32("conversationId").unwrap(), 1);
    assert!(!spec.get_bool("done").unwrap());
    let (last, expected_signature) = scram.last(&payload(spec), PASSWORD);
    let done = wire
        .run(
            "admin",
            doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(last) },
        )
        .await;
    assert_step(&done, true);
    assert_eq!(payload(&done), expected_signature.into_bytes());
    let found = wire.run("app", doc! { "find": "c" }).await;
    assert_eq!(found.get_f64("ok").unwrap(), 1.0, "{found}");

    // A speculative attempt for an unknown user is simply left out of the reply.
    let mut other = Wire::connect(&tb).await;
    let hello = other
        .run(
            "admin",
            doc! { "hello": 1, "speculativeAuthenticate": {
            "saslStart": 1, "mechanism": "SCRAM-SHA-256",
            "payload": bin(ScramClient::new("nobody").first()), "db": "admin" } },
        )
        .await;
    assert!(!hello.contains_key("speculativeAuthenticate"), "{hello}");
}

#[tokio::test]
async fn wrong_proof_and_other_mechanisms_are_refused() {
    let tb = start_with_user().await;
    let mut wire = Wire::connect(&tb).await;
    let scram = ScramClient::new(USER);
    let first = wire
        .run(
            "admin",
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(scram.first()),
            "options": { "skipEmptyExchange": true } },
        )
        .await;
    let (last, _) = scram.last(&payload(&first), "not the password");
    let failed = wire
        .run(
            "admin",
            doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(last) },
        )
        .await;
    assert_eq!(failed.get_f64("ok").unwrap(), 0.0);
    assert_eq!(failed.get_i32("code").unwrap(), 18);
    assert_eq!(failed.get_str("codeName").unwrap(), "AuthenticationFailed");
    assert_eq!(failed.get_str("errmsg").unwrap(), "Authentication failed.");
    let denied = wire.run("app", doc! { "find": "c" }).await;
    assert_eq!(denied.get_i32("code").unwrap(), 13, "{denied}");
    // The failed conversation is gone.
    let stale = wire
        .run(
            "admin",
            doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(Vec::new()) },
        )
        .await;
    assert_eq!(stale.get_i32("code").unwrap(), 17, "{stale}");

    let sha1 = wire
        .run(
            "admin",
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-1", "payload": bin(scram.first()) },
        )
        .await;
    assert_eq!(sha1.get_i32("code").unwrap(), 334, "{sha1}");
    let plain = wire
        .run(
            "admin",
            doc! { "saslStart": 1, "mechanism": "PLAIN", "payload": bin(b"\0alice\0x".to_vec()) },
        )
        .await;
    assert_eq!(plain.get_i32("code").unwrap(), 334, "{plain}");
    // Users live in admin: the same user name in another database is unknown.
    let other_db = wire
        .run(
            "app",
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(scram.first()) },
        )
        .await;
    assert_eq!(other_db.get_i32("code").unwrap(), 18, "{other_db}");
}

#[tokio::test]
async fn invalid_user_options_are_refused_at_start() {
    let err = Testbed::start(TestbedOptions {
        users: vec![("bob".into(), "pässword".into())],
        ..TestbedOptions::default()
    })
    .await
    .err()
    .expect("non-ASCII password refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
