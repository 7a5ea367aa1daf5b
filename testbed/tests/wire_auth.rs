//! SCRAM-SHA-256 on the wire, step by step with a minimal client written from RFC 5802: the
//! `saslStart`/`saslContinue` reply shapes (`conversationId`, `done`, BinData subtype 0
//! `payload`), the empty final exchange without `skipEmptyExchange`, speculative
//! authentication in `hello`, `saslSupportedMechs`, and the refusals (18, 13, 17, 334).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret:pw";

async fn start_with_user() -> Testbed {
    crate::support::start_with(TestbedOptions {
        users: vec![(USER.into(), PASSWORD.into())],
        ..TestbedOptions::default()
    })
    .await
}

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
