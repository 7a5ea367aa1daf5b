//! The audit trail of one document lists every version, newest first, with what changed,
//! through `GET /api/v1/history` and `mongo-replicator history`.

use super::fixture::{Fixture, LIMIT};
use crate::support::wait_until;
use bson::{doc, Document};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_of_a_document_lists_every_version() {
    let f = Fixture::start("hist_audit", |_| {}).await;
    // History on: the default writer's 4 batches in flight become 4 writers of one each.
    let log = f.process.log_text();
    assert!(
        log.contains("tailing: writers 4, batches in flight per writer 1"),
        "{log}"
    );
    let orders = f.source().collection::<Document>("orders");
    orders
        .insert_one(doc! {"_id": 7, "qty": 1, "note": "a"})
        .await
        .unwrap();
    orders
        .update_one(doc! {"_id": 7}, doc! {"$set": {"qty": 2}})
        .await
        .unwrap();
    orders
        .update_one(doc! {"_id": 7}, doc! {"$unset": {"note": 1}})
        .await
        .unwrap();
    orders
        .replace_one(doc! {"_id": 7}, doc! {"qty": 3, "by": "ops"})
        .await
        .unwrap();
    orders.delete_one(doc! {"_id": 7}).await.unwrap();
    let path = "/api/v1/history?collection=orders&id=7";
    let trail = std::sync::Mutex::new(Value::Null);
    wait_until("five versions in the audit trail", LIMIT, || async {
        let Some((200, body)) = f.process.get(path).await else {
            return false;
        };
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        let five = v["versions"].as_array().is_some_and(|v| v.len() == 5);
        *trail.lock().unwrap() = v;
        five
    })
    .await;
    let trail = trail.into_inner().unwrap();
    let v = trail["versions"].as_array().unwrap();
    let ops: Vec<&str> = v.iter().map(|x| x["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["delete", "replace", "update", "update", "insert"]);
    let docs: Vec<&Value> = v.iter().map(|x| &x["document"]).collect();
    assert_eq!(
        docs,
        [
            &Value::Null,
            &json!({"_id": {"$numberInt": "7"}, "qty": {"$numberInt": "3"}, "by": "ops"}),
            &json!({"_id": {"$numberInt": "7"}, "qty": {"$numberInt": "2"}}),
            &json!({"_id": {"$numberInt": "7"}, "qty": {"$numberInt": "2"}, "note": "a"}),
            &json!({"_id": {"$numberInt": "7"}, "qty": {"$numberInt": "1"}, "note": "a"}),
        ]
    );
    assert_eq!(v[1]["updated"], json!(["qty", "by"]));
    assert_eq!(v[2]["removed"], json!(["note"]));
    assert_eq!(v[3]["updated"], json!(["qty"]));
    assert_eq!(trail["id"], json!({"$numberInt": "7"}));

    // Filters, and the CLI over the same route.
    let (code, body) = f
        .process
        .get(&format!("{path}&op=update&limit=1"))
        .await
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);
    assert_eq!(one["versions"][0]["removed"], json!(["note"]));
    let (code, body) = f
        .process
        .get("/api/v1/history?collection=orders")
        .await
        .unwrap();
    assert_eq!(code, 400, "{body}");
    // A collection nothing replicates is named back, not answered with an empty trail.
    let (code, body) = f
        .process
        .get("/api/v1/history?collection=ordrs&id=7")
        .await
        .unwrap();
    assert_eq!(code, 404, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("\"ordrs\""),
        "{body}"
    );
    let addr = f.process.http.to_string();
    let (code, out, err) = f
        .binary(&[
            "history",
            "--addr",
            &addr,
            "--collection",
            "orders",
            "--id",
            "7",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| !l.starts_with(' ')).count(),
        5,
        "{out}"
    );
    assert!(out.lines().next().unwrap().contains("delete"), "{out}");
}
