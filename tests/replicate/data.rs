//! Bad data (scenario 8 of docs/RELIABILITY.md), replicated byte-exact in both update modes:
//! documents close to 16 MiB (insert, replace, small and large updates: in `full_document`
//! mode the large update's event carries a ~16 MiB delta and a ~16 MiB `fullDocument`, ~32 MiB:
//! the source sends it as `$changeStreamSplitLargeEvent` fragments the replicator reassembles;
//! without the stage the stream fails with 10334, as on mongod), 100 levels of nesting,
//! every BSON type, field names with dots, a leading `$`, unicode and the empty string (written
//! by insert/replace, then updated next to them), and `_id`s of every kind the server accepts.

use crate::support::{assert_identical, config, db_names, with_mode, Deployment, Replicator};
use bson::spec::BinarySubtype;
use bson::{doc, oid::ObjectId, Binary, Bson, DateTime, Document, JavaScriptCodeWithScope};
use bson::{Decimal128, Regex, Timestamp};
use mongo_replicator::config::UpdateMode;
use mongodb::{Collection, Database};
use std::future::Future;
use std::time::Duration;

/// For each update mode: `before` on a fresh source (copied), then `during` while tailing;
/// the backup must end byte-identical and the counters settled.
async fn both_modes<B, BF, D, DF>(tag: &str, before: B, during: D)
where
    B: Fn(Database) -> BF,
    BF: Future<Output = ()>,
    D: Fn(Database) -> DF,
    DF: Future<Output = ()>,
{
    let dep = Deployment::start().await;
    for mode in [UpdateMode::Delta, UpdateMode::FullDocument] {
        let (src, dst) = db_names(tag);
        let cfg = with_mode(config(&dep.uri, &src, &dst), mode);
        before(dep.db(&src)).await;
        let r = Replicator::start(&cfg).await;
        r.tailing(Duration::from_secs(60)).await;
        during(dep.db(&src)).await;
        let mut r = r;
        // Say why, when the replicator stopped (a write the target refused, ...).
        tokio::time::sleep(Duration::from_millis(300)).await;
        if r.job.is_finished() {
            panic!("{mode:?}: replicator stopped: {:?}", (&mut r.job).await);
        }
        r.caught_up(Duration::from_secs(60)).await;
        let t0 = std::time::Instant::now();
        let mut report = crate::support::verify(&dep, &cfg).await;
        while !report.identical() && t0.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            report = crate::support::verify(&dep, &cfg).await;
        }
        eprintln!("{mode:?}: identical after {:?} more", t0.elapsed());
        assert!(report.identical(), "{mode:?}: target differs:\n{report}");
        assert_identical(&dep, &cfg).await;
        crate::support::faults::settle(&r).await;
        r.shutdown().await.unwrap();
    }
}

fn coll(db: &Database, name: &str) -> Collection<Document> {
    db.collection::<Document>(name)
}

/// BSON size limit of a document (`maxBsonObjectSize`).
const MAX_BSON: usize = 16 * 1024 * 1024;

/// `{_id, pad: <fill>..., n}` of exactly `size` bytes.
fn sized(id: i32, fill: char, size: usize) -> Document {
    let mut d = doc! {"_id": id, "pad": "", "n": 0};
    let overhead = bson::to_vec(&d).unwrap().len();
    d.insert("pad", fill.to_string().repeat(size - overhead));
    d.insert("n", 0); // keep `n` after `pad`
    assert_eq!(bson::to_vec(&d).unwrap().len(), size);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_close_to_16_mib_replicate_in_both_modes() {
    let near = MAX_BSON - 1024;
    both_modes(
        "big",
        |db| async move {
            coll(&db, "big")
                .insert_one(sized(1, 'a', near))
                .await
                .unwrap();
        },
        |db| async move {
            let big = coll(&db, "big");
            big.insert_one(sized(2, 'b', near)).await.unwrap();
            // A document of exactly the limit.
            big.insert_one(sized(3, 'c', MAX_BSON)).await.unwrap();
            big.replace_one(doc! {"_id": 1}, sized(1, 'd', near))
                .await
                .unwrap();
            // A small change to a near-16 MiB document: with updateLookup the event is just
            // under 16 MiB + 8 KiB, so it comes whole.
            big.update_one(doc! {"_id": 2}, doc! {"$inc": {"n": 1}})
                .await
                .unwrap();
            // A large change: the delta itself is near 16 MiB (with updateLookup ~32 MiB: split).
            let pad = "e".repeat(near - 64);
            big.update_one(doc! {"_id": 1}, doc! {"$set": {"pad": pad}})
                .await
                .unwrap();
            big.update_one(doc! {"_id": 3}, doc! {"$set": {"n": 2, "pad": "small"}})
                .await
                .unwrap();
        },
    )
    .await;
}

/// `{"l": {"l": ... {"leaf": depth}}}` with `depth` levels of documents, the outer one included.
fn nested(depth: usize) -> Document {
    let mut d = doc! {"leaf": depth as i32};
    for _ in 1..depth {
        d = doc! {"l": d};
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_levels_of_nesting_replicate_in_both_modes() {
    // The top-level document is level 1: `deep` holds the other 99.
    let deep_path = |field: &str| format!("deep.{}{field}", "l.".repeat(97));
    both_modes(
        "deep",
        |db| async move {
            coll(&db, "deep")
                .insert_one(doc! {"_id": 1, "deep": nested(99)})
                .await
                .unwrap();
        },
        move |db| {
            let (leaf, extra) = (deep_path("leaf"), deep_path("extra"));
            async move {
                let c = coll(&db, "deep");
                c.insert_one(doc! {"_id": 2, "deep": nested(99)})
                    .await
                    .unwrap();
                c.update_one(doc! {"_id": 1}, doc! {"$set": {leaf: "changed"}})
                    .await
                    .unwrap();
                c.update_one(doc! {"_id": 2}, doc! {"$set": {extra: [1, 2]}})
                    .await
                    .unwrap();
                c.replace_one(doc! {"_id": 1}, doc! {"_id": 1, "deep": nested(98)})
                    .await
                    .unwrap();
            }
        },
    )
    .await;
}

/// One value of every BSON type (deprecated ones included) with awkward values.
fn every_type() -> Document {
    doc! {
        "double": 1.5, "nan": f64::NAN, "neg_zero": -0.0, "inf": f64::NEG_INFINITY,
        "string": "ünïcødé ✓ \u{1F600}", "empty_string": "",
        "doc": {"x": 1}, "empty_doc": {}, "array": [1, "two", {"three": 3}, [4]], "empty_array": [],
        "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
        "bin_old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![9, 9] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() },
        "md5": Binary { subtype: BinarySubtype::Md5, bytes: (0..16).collect() },
        "user_bin": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![7] },
        "undefined": Bson::Undefined,
        "oid": ObjectId::parse_str("5f0c6a5b1c9d440000a1b2c3").unwrap(),
        "bool": false,
        "date": DateTime::from_millis(-62_135_596_800_000), "date_max": DateTime::MAX,
        "null": Bson::Null,
        "regex": Regex { pattern: "^a.*[b]$".into(), options: "imsx".into() },
        "js": Bson::JavaScriptCode("function () { return 1; }".into()),
        "symbol": Bson::Symbol("sym".into()),
        "js_scope": JavaScriptCodeWithScope { code: "x".into(), scope: doc! {"x": 1} },
        "int32": i32::MIN, "ts": Timestamp { time: 1, increment: 2 }, "int64": i64::MAX,
        "dec": "-0.000000000000000000000000000000001E-6000".parse::<Decimal128>().unwrap(),
        "dec_nan": "NaN".parse::<Decimal128>().unwrap(),
        "min": Bson::MinKey, "max": Bson::MaxKey,
    }
}

/// Field names a `$set` path cannot spell: dots, a leading `$`, the empty string, next to
/// plain and unicode names; a numeric key in a document beside an array.
fn odd_names(id: i32) -> Document {
    doc! {
        "_id": id,
        "a.b": "literal dotted", "a": {"b": 1, "c": 2}, "$x": "dollar", "": "empty key",
        "ключ": "unicode", "😀": 1, "nest": {"$y": 1, "c.d": 2, "": 3, "z": 4},
        "obj": {"1": "one"}, "arr": [0, 1, 2], "other": 0, "types": every_type(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_and_odd_field_names_replicate_in_both_modes() {
    both_modes(
        "names",
        |db| async move {
            coll(&db, "odd").insert_one(odd_names(1)).await.unwrap();
        },
        |db| async move {
            let c = coll(&db, "odd");
            // The replicator writes a document with a top-level `$` name by a pipeline update
            // (a replacement may not hold one); a server without those gets the rest.
            let mut second = odd_names(2);
            if !supports_pipeline_updates(&db).await {
                eprintln!("no pipeline-style updates here: top-level `$` names only in the copy");
                second.remove("$x");
            }
            c.insert_one(second).await.unwrap();
            // A replacement may not have top-level `$` names (code 52, as on a real server):
            // nested ones and dotted names only.
            let mut replaced = odd_names(1);
            replaced.remove("$x");
            replaced.insert("a.b", Bson::Null);
            replaced.insert("nest", doc! {"$y": "replaced", "c.d": {"$z": 1}});
            c.replace_one(doc! {"_id": 1}, replaced).await.unwrap();
            for (id, update) in [
                // Next to the odd names, each path a plain one.
                (1, doc! {"$set": {"other": 1}}),
                (1, doc! {"$set": {"a.b": "nested, not the dotted field"}}),
                (2, doc! {"$unset": {"a.c": ""}}),
                (2, doc! {"$set": {"nest.z": 5, "nest.new": [1]}}),
                (
                    1,
                    doc! {"$inc": {"types.int32": 1}, "$set": {"types.doc.x": "y"}},
                ),
                // Numeric components: a document key and an array index (disambiguatedPaths).
                (2, doc! {"$set": {"obj.1": "uno", "arr.1": 10}}),
                (1, doc! {"$push": {"arr": {"$each": [3], "$slice": -2}}}),
                (2, doc! {"$set": {"ключ": "ключ2", "😀": 2}}),
            ] {
                c.update_one(doc! {"_id": id}, update).await.unwrap();
            }
            // A pipeline update that rewrites `$`/dotted fields: its delta cannot be replayed
            // as operators.
            let literal = doc! {"$literal": {"$x": "via pipeline", "a.b": 7}};
            let pipeline = vec![doc! {"$replaceWith": {"$mergeObjects": ["$$ROOT", literal]}}];
            if let Err(e) = c.update_one(doc! {"_id": 2}, pipeline).await {
                eprintln!("pipeline update not supported here: {e}");
            }
        },
    )
    .await;
}

/// True when the server takes `[{$replaceWith: {$literal: ...}}]` as an update (4.2+).
async fn supports_pipeline_updates(db: &Database) -> bool {
    let probe = coll(db, "pipeline_probe");
    let pipeline = vec![doc! {"$replaceWith": {"$literal": {"_id": 1, "$x": 1}}}];
    let ok = probe
        .update_one(doc! {"_id": 1}, pipeline)
        .upsert(true)
        .await
        .is_ok();
    probe.drop().await.unwrap();
    ok
}

/// One `_id` of every kind a server accepts (numbers of different types are distinct values).
fn ids() -> Vec<Bson> {
    vec![
        Bson::ObjectId(ObjectId::parse_str("64b7f0c2a1b2c3d4e5f60718").unwrap()),
        Bson::String("string ✓".into()),
        Bson::String(String::new()),
        Bson::Int32(1),
        Bson::Int64(2),
        Bson::Double(3.5),
        Bson::Decimal128("4.25".parse().unwrap()),
        Bson::Document(doc! {"b": 1, "a": 2}),
        Bson::Document(doc! {"a": 2, "b": 1}),
        Bson::Document(doc! {"nested": {"k": "v", "x.y": [1, 2]}}),
        Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![1, 2, 3],
        }),
        Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: (100..116).collect(),
        }),
        Bson::DateTime(DateTime::from_millis(-1)),
        Bson::Timestamp(Timestamp {
            time: 7,
            increment: 8,
        }),
        Bson::MinKey,
        Bson::MaxKey,
        Bson::Null,
        Bson::Boolean(true),
        Bson::Symbol("sym".into()),
        Bson::JavaScriptCode("code".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_every_kind_replicate_and_forbidden_ids_are_refused() {
    let dep = Deployment::start().await;
    let probe = coll(&dep.db("probe_ids"), "c");
    // A server refuses an array `_id`; the manual also excludes regex and undefined (the
    // testbed accepts those two: see RELIABILITY.md). None of them is replicated here.
    let array = probe.insert_one(doc! {"_id": [1]}).await;
    assert!(array.is_err(), "an array _id was accepted");
    for other in [
        Bson::RegularExpression(Regex {
            pattern: "x".into(),
            options: String::new(),
        }),
        Bson::Undefined,
    ] {
        let r = probe.insert_one(doc! {"_id": other.clone()}).await;
        eprintln!("_id {other:?}: accepted = {}", r.is_ok());
    }
    drop(dep);
    both_modes(
        "ids",
        |db| async move {
            let c = coll(&db, "ids");
            for (n, id) in ids().into_iter().enumerate() {
                c.insert_one(doc! {"_id": id, "n": n as i32, "phase": "copy"})
                    .await
                    .unwrap();
            }
        },
        |db| async move {
            let c = coll(&db, "ids");
            let tail = coll(&db, "ids_tail");
            for (n, id) in ids().into_iter().enumerate() {
                tail.insert_one(doc! {"_id": id.clone(), "n": n as i32})
                    .await
                    .unwrap();
                c.update_one(doc! {"_id": id.clone()}, doc! {"$set": {"phase": "tail"}})
                    .await
                    .unwrap();
                tail.replace_one(doc! {"_id": id.clone()}, doc! {"n": -1, "r": true})
                    .await
                    .unwrap();
                if n % 3 == 0 {
                    c.delete_one(doc! {"_id": id}).await.unwrap();
                }
            }
        },
    )
    .await;
}
