//! `$jsonSchema` through the driver: as a validator (121 with `schemaRulesNotSatisfied` in
//! `errInfo`) and as a query operator, keyword by keyword, and refused keywords.

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};

fn code_of(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        _ => None,
    }
}

#[tokio::test]
async fn json_schema_validator_refuses_with_the_rules_not_satisfied() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("js");
    let schema = doc! {
        "bsonType": "object",
        "required": ["name", "age"],
        // With `additionalProperties: false`, `_id` must be listed too (as on mongod).
        "properties": {
            "_id": {"bsonType": "int"},
            "name": {"bsonType": "string", "minLength": 2, "maxLength": 5},
            "age": {"bsonType": ["int", "long"], "minimum": 0, "maximum": 150},
            "kind": {"enum": ["a", "b"]},
            "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
            "code": {"bsonType": "string", "pattern": "^[A-Z]+$"},
        },
        "additionalProperties": false,
        "patternProperties": {"^x_": {"type": "number"}},
    };
    db.run_command(doc! {"create": "p", "validator": {"$jsonSchema": schema.clone()}})
        .await
        .unwrap();
    let p = db.collection::<Document>("p");
    p.insert_one(
        doc! {"_id": 1, "name": "ann", "age": 30, "kind": "a", "tags": ["t"], "code": "AB", "x_1": 2.5},
    )
    .await
    .expect("a valid document");
    let bad = [
        doc! {"_id": 2, "name": "ann"},
        doc! {"_id": 3, "name": "a", "age": 1},
        doc! {"_id": 4, "name": "ann", "age": 200},
        doc! {"_id": 5, "name": "ann", "age": 1.5},
        doc! {"_id": 6, "name": "ann", "age": 1, "kind": "c"},
        doc! {"_id": 7, "name": "ann", "age": 1, "tags": [1]},
        doc! {"_id": 8, "name": "ann", "age": 1, "code": "ab"},
        doc! {"_id": 9, "name": "ann", "age": 1, "other": true},
        doc! {"_id": 10, "name": "ann", "age": 1, "x_2": "s"},
    ];
    for d in bad {
        let err = p.insert_one(d.clone()).await.unwrap_err();
        assert_eq!(code_of(&err), Some(121), "{d}: {err:?}");
    }
    let reply = crate::support::raw_command(
        tb.addr(),
        "js",
        doc! {"insert": "p", "documents": [{"_id": 2, "name": 7}]},
    )
    .await;
    let err = &reply.get_array("writeErrors").unwrap()[0];
    let details = err
        .as_document()
        .unwrap()
        .get_document("errInfo")
        .unwrap()
        .get_document("details")
        .unwrap();
    assert_eq!(
        details.get_str("operatorName"),
        Ok("$jsonSchema"),
        "{details}"
    );
    let rules = details.get_array("schemaRulesNotSatisfied").unwrap();
    let names: Vec<&str> = rules
        .iter()
        .map(|r| r.as_document().unwrap().get_str("operatorName").unwrap())
        .collect();
    assert_eq!(names, ["required", "properties"], "{details}");
    let required = rules[0].as_document().unwrap();
    assert_eq!(
        required.get_array("missingProperties").unwrap(),
        &vec!["age".into()]
    );
    let props = rules[1].as_document().unwrap();
    let name = props.get_array("propertiesNotSatisfied").unwrap()[0]
        .as_document()
        .unwrap();
    assert_eq!(name.get_str("propertyName"), Ok("name"));
    assert_eq!(p.count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn json_schema_in_queries_and_refused_keywords() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("js");
    let c = db.collection::<Document>("q");
    c.insert_many([
        doc! {"_id": 1, "a": "x"},
        doc! {"_id": 2, "a": 5},
        doc! {"_id": 3},
        doc! {"_id": 4, "a": [1, 2, 2]},
    ])
    .await
    .unwrap();
    let ids = |filter: Document| {
        let c = c.clone();
        async move {
            let docs: Vec<Document> = c.find(filter).await.unwrap().try_collect().await.unwrap();
            docs.iter()
                .map(|d| d.get_i32("_id").unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(doc! {"$jsonSchema": {"required": ["a"]}}).await,
        [1, 2, 4]
    );
    // Keywords only constrain values of their type: `minimum` ignores the string.
    let min = doc! {"$jsonSchema": {"properties": {"a": {"minimum": 6}}}};
    assert_eq!(ids(min).await, [1, 3, 4]);
    let typed = doc! {"$jsonSchema": {"properties": {"a": {"type": "string"}}}};
    assert_eq!(ids(typed).await, [1, 3]);
    let unique = doc! {"$jsonSchema": {"properties": {"a": {"uniqueItems": true, "minItems": 2}}}};
    assert_eq!(ids(unique).await, [1, 2, 3]);
    let any = doc! {"$jsonSchema": {"properties": {"a": {"anyOf": [{"bsonType": "int"}, {"bsonType": "array"}]}}}};
    assert_eq!(ids(any.clone()).await, [2, 3, 4]);
    let not = doc! {"$jsonSchema": {"properties": {"a": {"not": {"bsonType": "string"}}}}, "_id": {"$gt": 1}};
    assert_eq!(ids(not).await, [2, 3, 4]);
    assert_eq!(ids(doc! {"$or": [any, {"_id": 1}]}).await, [1, 2, 3, 4]);

    for (schema, want) in [
        (doc! {"format": "email"}, 9),
        (doc! {"type": "integer"}, 9),
        (doc! {"nope": 1}, 9),
        (doc! {"type": "string", "bsonType": "string"}, 9),
        (doc! {"bsonType": "nope"}, 2),
    ] {
        let r = db
            .run_command(doc! {"find": "q", "filter": {"$jsonSchema": schema.clone()}})
            .await;
        assert_eq!(code_of(&r.unwrap_err()), Some(want), "{schema}");
        let r = db
            .run_command(doc! {"create": "v", "validator": {"$jsonSchema": schema.clone()}})
            .await;
        assert_eq!(code_of(&r.unwrap_err()), Some(want), "{schema}");
    }
}
