//! Property: the change events of random writes, replayed on an empty map, rebuild exactly
//! the collection's final contents (what a replicator relies on).

use bson::{doc, Bson, Document};
use mongo_testbed::changestream::{ChangeStream, Scope};
use mongo_testbed::matcher::Matcher;
use mongo_testbed::pipeline::Pipeline;
use mongo_testbed::store::*;
use mongo_testbed::update::UpdateSpec;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Step {
    Insert(i32, i32),
    Set(i32, &'static str, i32),
    Unset(i32, &'static str),
    Push(i32, i32),
    Replace(i32, i32),
    Delete(i32),
    MultiInc(i32),
}

fn step() -> impl Strategy<Value = Step> {
    let id = 0..6i32;
    let field = prop_oneof![Just("a"), Just("b"), Just("c")];
    prop_oneof![
        (id.clone(), any::<i32>()).prop_map(|(i, v)| Step::Insert(i, v)),
        (id.clone(), field.clone(), 0..3i32).prop_map(|(i, f, v)| Step::Set(i, f, v)),
        (id.clone(), field).prop_map(|(i, f)| Step::Unset(i, f)),
        (id.clone(), any::<i32>()).prop_map(|(i, v)| Step::Push(i, v)),
        (id.clone(), any::<i32>()).prop_map(|(i, v)| Step::Replace(i, v)),
        id.clone().prop_map(Step::Delete),
        (0..3i32).prop_map(Step::MultiInc),
    ]
}

fn update(s: &Store, ns: &Namespace, filter: Document, u: Document, multi: bool) {
    let st = UpdateStatement {
        filter,
        update: UpdateSpec::parse(&u).unwrap(),
        upsert: false,
        multi,
        sort: None,
        collation: None,
    };
    s.update(ns, &[st], true);
}

fn run(s: &Store, ns: &Namespace, st: &Step) {
    match st {
        Step::Insert(i, v) => {
            s.insert(ns, vec![doc! {"_id": i, "a": v, "arr": []}], true);
        }
        Step::Set(i, f, v) => update(s, ns, doc! {"_id": i}, doc! {"$set": {*f: v}}, false),
        Step::Unset(i, f) => update(s, ns, doc! {"_id": i}, doc! {"$unset": {*f: ""}}, false),
        Step::Push(i, v) => update(s, ns, doc! {"_id": i}, doc! {"$push": {"arr": v}}, false),
        Step::Replace(i, v) => update(s, ns, doc! {"_id": i}, doc! {"r": v}, false),
        Step::Delete(i) => {
            s.delete(
                ns,
                &[DeleteStatement {
                    filter: doc! {"_id": i},
                    limit_one: true,
                    collation: None,
                }],
                true,
            );
        }
        Step::MultiInc(v) => update(s, ns, doc! {"a": v}, doc! {"$inc": {"b": 1}}, true),
    }
}

/// Sets a dotted path (numeric components index arrays; one past the end appends).
fn set_path(d: &mut Document, path: &str, v: Bson) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    match rest {
        None => {
            d.insert(head, v);
        }
        Some(r) => match d.get_mut(head) {
            Some(Bson::Document(sub)) => set_path(sub, r, v),
            Some(Bson::Array(a)) => {
                let i: usize = r.parse().expect("arrays of scalars only");
                if i == a.len() {
                    a.push(v);
                } else {
                    a[i] = v;
                }
            }
            _ => panic!("path {path} does not exist"),
        },
    }
}

fn apply_event(map: &mut BTreeMap<i32, Document>, e: &Document) {
    let id = e
        .get_document("documentKey")
        .unwrap()
        .get_i32("_id")
        .unwrap();
    match e.get_str("operationType").unwrap() {
        "insert" | "replace" => {
            map.insert(id, e.get_document("fullDocument").unwrap().clone());
        }
        "delete" => {
            map.remove(&id);
        }
        "update" => {
            let d = map.get_mut(&id).expect("update of a known document");
            let ud = e.get_document("updateDescription").unwrap();
            for t in ud.get_array("truncatedArrays").unwrap() {
                let t = t.as_document().unwrap();
                if let Some(Bson::Array(a)) = d.get_mut(t.get_str("field").unwrap()) {
                    a.truncate(t.get_i32("newSize").unwrap() as usize);
                }
            }
            for f in ud.get_array("removedFields").unwrap() {
                d.remove(f.as_str().unwrap());
            }
            for (k, v) in ud.get_document("updatedFields").unwrap() {
                set_path(d, k, v.clone());
            }
        }
        other => panic!("unexpected {other}"),
    }
}

proptest! {
    #![proptest_config(crate::proptest_config(64))]
    #[test]
    fn events_replay_to_final_contents(steps in prop::collection::vec(step(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let s = Store::open(StoreOptions::default()).unwrap();
        let ns = Namespace::new("db", "c");
        let mut cs = ChangeStream::open(s.clone(), Scope::Collection(ns.clone()), &doc! {}, Pipeline::new(&[]).unwrap()).unwrap();
        for st in &steps {
            run(&s, &ns, st);
        }
        let events = rt.block_on(cs.next_batch(100_000, None)).unwrap();
        let mut map = BTreeMap::new();
        for e in &events {
            apply_event(&mut map, e);
        }
        let mut actual = BTreeMap::new();
        s.scan(&ns, &Matcher::new(&doc! {}).unwrap(), &mut |d| {
            actual.insert(d.get_i32("_id").unwrap(), d.clone());
            true
        });
        prop_assert_eq!(map, actual);
    }
}
