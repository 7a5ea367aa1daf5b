//! `--dbpath`: data (and indexes) survive a clean restart of the library testbed and a
//! `kill -9` of the binary, for every write acknowledged with w:1.

use mongodb::bson::{doc, Document};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

#[tokio::test]
async fn data_survives_a_restart_on_the_same_dbpath() {
    let dir = tempfile::tempdir().unwrap();
    let tb = crate::support::start_on(dir.path().to_path_buf()).await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("p").collection::<Document>("c");
    coll.insert_many((0..100).map(|i| doc! {"_id": i, "v": i}))
        .await
        .unwrap();
    coll.update_one(doc! {"_id": 5}, doc! {"$set": {"v": "five"}})
        .await
        .unwrap();
    coll.delete_one(doc! {"_id": 6}).await.unwrap();
    drop(client);
    drop(tb);

    let tb = crate::support::start_on(dir.path().to_path_buf()).await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("p").collection::<Document>("c");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 99);
    assert_eq!(
        coll.find_one(doc! {"_id": 5}).await.unwrap().unwrap(),
        doc! {"_id": 5, "v": "five"}
    );
    assert!(coll.find_one(doc! {"_id": 6}).await.unwrap().is_none());
}

/// Starts the binary on a free port and returns it with the address it printed.
fn spawn_binary(dbpath: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-testbed"))
        .args(["--port", "0", "--dbpath"])
        .arg(dbpath)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn mongo-testbed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("mongo-testbed listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    assert!(line.contains("(replica set rs0)"), "{line}");
    (child, addr)
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_binary(dir.path());
    let client = crate::support::client_for(&format!("mongodb://{addr}/?replicaSet=rs0")).await;
    let coll = client.database("k").collection::<Document>("c");
    for i in 0..50 {
        coll.insert_one(doc! {"_id": i}).await.unwrap();
    }
    coll.update_many(doc! {}, doc! {"$set": {"ok": true}})
        .await
        .unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(client);

    let (mut child, addr) = spawn_binary(dir.path());
    let client = crate::support::client_for(&format!("mongodb://{addr}/?replicaSet=rs0")).await;
    let coll = client.database("k").collection::<Document>("c");
    let n = coll.count_documents(doc! {"ok": true}).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(n.unwrap(), 50);
}
