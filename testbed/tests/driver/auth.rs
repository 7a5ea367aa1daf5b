//! Authentication: the official driver authenticates with SCRAM-SHA-256 (speculatively, inside
//! `hello`), a wrong password fails with AuthenticationFailed (18), unauthenticated commands
//! fail with Unauthorized (13) once users are configured, and without users the testbed stays
//! open. `wire_auth.rs` drives the SASL conversation by hand to pin the reply shapes.

use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret:pw";

async fn start_with_user() -> Testbed {
    crate::support::start_with(TestbedOptions {
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
    let admin_client = crate::support::client_for(&uri_with(&tb, USER, PASSWORD, "")).await;
    // Any explicit saslStart from the second client fails: it can only get in through the
    // speculative first step inside `hello`.
    crate::support::fail_point(
        &admin_client,
        Bson::String("alwaysOn".into()),
        doc! { "failCommands": ["saslStart"], "errorCode": 18, "appName": "spec" },
    )
    .await;
    let client = crate::support::client_for(&uri_with(&tb, USER, PASSWORD, "&appName=spec")).await;
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
    crate::support::fail_point_off(&admin_client).await;
}

#[tokio::test]
async fn wrong_password_fails_with_18() {
    let tb = start_with_user().await;
    for uri in [
        uri_with(&tb, USER, "wrong", ""),
        uri_with(&tb, "nobody", PASSWORD, ""),
        uri_with(&tb, USER, "wrong", "&authMechanism=SCRAM-SHA-256"),
    ] {
        let client = crate::support::client_for(&uri).await;
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
    let client = crate::support::client(&tb).await;
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
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! { "_id": 1 })
        .await
        .expect("open insert");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    // Credentials against a server without that user fail as on mongod.
    let with_creds = crate::support::client_for(&uri_with(&tb, USER, PASSWORD, "")).await;
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
