//! Per-event cost of the pure hot path: translating a change event as the stream delivers it
//! (raw bytes), and batching translated ops (BatchBuilder push + take_plan: the raw bulk
//! statements), over a realistic mix of ~1 KB documents.

use bson::{doc, Bson, DateTime, Document, RawDocumentBuf, Timestamp};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mongo_replicator::apply::batch::BatchBuilder;
use mongo_replicator::config::{DdlConfig, UpdateMode};
use mongo_replicator::source::namespaces::Scope;
use mongo_replicator::source::translate::{
    read_event, translate, TranslateOptions, Translated, WriteOp,
};

fn opts() -> TranslateOptions {
    TranslateOptions {
        scope: std::sync::Arc::new(Scope::shorthand("bench", None, "bench_backup")),
        update_mode: UpdateMode::Delta,
        ddl: DdlConfig::default(),
    }
}

fn full(id: i64) -> Document {
    doc! {
        "_id": id, "name": format!("customer-{id}"), "status": "new", "v": 0,
        "tags": ["a", "b", "c"],
        "address": {"city": "Lyon", "zip": "69001", "line": format!("{id} rue de la Paix")},
        "pad": "x".repeat(850),
    }
}

/// A change event as the server sends it.
fn event(i: i64) -> Document {
    let mut ev = doc! {
        "_id": {"_data": format!("8263{i:020X}2B022C0100296E5A1004")},
        "clusterTime": Timestamp { time: 1_700_000_000, increment: i as u32 },
        "wallTime": Bson::DateTime(DateTime::from_millis(1_700_000_000_000 + i)),
        "ns": {"db": "bench", "coll": format!("c{}", i % 4)},
        "documentKey": {"_id": i / 3},
    };
    match i % 10 {
        0..=4 => {
            ev.insert("operationType", "insert");
            ev.insert("fullDocument", full(i / 3));
        }
        5..=7 => {
            ev.insert("operationType", "update");
            ev.insert(
                "updateDescription",
                doc! {"updatedFields": {"status": "paid", "n": i, "address.city": "Paris"},
                "removedFields": [], "truncatedArrays": []},
            );
        }
        8 => {
            ev.insert("operationType", "replace");
            ev.insert("fullDocument", full(i / 3));
        }
        _ => {
            ev.insert("operationType", "delete");
        }
    }
    ev
}

fn ops(events: &[RawDocumentBuf]) -> Vec<WriteOp> {
    events
        .iter()
        .map(|e| match translate(e, &opts()).unwrap() {
            Translated::Write(op) => op,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events: Vec<RawDocumentBuf> = (0..1000)
        .map(|i| RawDocumentBuf::from_document(&event(i)).unwrap())
        .collect();
    let o = opts();
    let mut g = c.benchmark_group("per_event");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("translate", |b| {
        b.iter(|| {
            // What the watcher does per event: metadata and op from one scan.
            for e in &events {
                std::hint::black_box(read_event(e, &o).unwrap());
            }
        })
    });
    let translated = ops(&events);
    g.bench_function("batch_push_take_plan", |b| {
        b.iter_batched(
            || translated.clone(),
            |ops| {
                let mut builder = BatchBuilder::new();
                for op in ops {
                    builder.push(op);
                }
                std::hint::black_box(builder.take_plan())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
