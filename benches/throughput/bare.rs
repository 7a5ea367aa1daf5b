//! The ceilings: what the Rust driver alone achieves on the same workload, and a naive
//! one-write-per-event replicator.

use bson::{doc, Bson, Document, RawArrayBuf, RawDocumentBuf};
use futures::{StreamExt, TryStreamExt};
use mongodb::change_stream::event::ResumeToken;
use mongodb::Database;
use std::time::Instant;

/// The source's change stream from `token`, in the replicator's batch size.
async fn watch_from(
    source: &Database,
    token: ResumeToken,
) -> mongodb::change_stream::ChangeStream<Document> {
    source
        .watch()
        .resume_after(token)
        .batch_size(1000)
        .await
        .expect("watch")
        .with_type::<Document>()
}

/// Drains `events` change events from `token` (batch size as the replicator's): events/s.
pub async fn read_ceiling(source: &Database, token: ResumeToken, events: usize) -> f64 {
    let started = Instant::now();
    let mut stream = watch_from(source, token).await;
    let mut n = 0;
    while n < events {
        stream.next().await.expect("event").expect("read event");
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Sends `commands` one after the other to `target`: ops/s (statements applied per second).
pub async fn write_ceiling(target: &Database, commands: impl Iterator<Item = Document>) -> f64 {
    let started = Instant::now();
    let mut ops = 0;
    for cmd in commands {
        ops += ["updates", "deletes"]
            .iter()
            .filter_map(|f| cmd.get_array(f).ok())
            .map(Vec::len)
            .sum::<usize>();
        let reply = target.run_command(cmd).await.expect("bulk write");
        assert!(!reply.contains_key("writeErrors"), "{reply}");
    }
    ops as f64 / started.elapsed().as_secs_f64()
}

/// A naive replicator: one awaited `replace_one` / `update_one` / `delete_one` per event.
pub async fn naive(source: &Database, target: &Database, token: ResumeToken, events: usize) -> f64 {
    let started = Instant::now();
    let mut stream = watch_from(source, token).await;
    for _ in 0..events {
        let ev = stream.next().await.expect("event").expect("read event");
        let coll =
            target.collection::<Document>(ev.get_document("ns").unwrap().get_str("coll").unwrap());
        let key = ev.get_document("documentKey").unwrap().clone();
        match ev.get_str("operationType").unwrap() {
            "insert" | "replace" => {
                let full = ev.get_document("fullDocument").unwrap().clone();
                coll.replace_one(key, full)
                    .upsert(true)
                    .await
                    .expect("replace");
            }
            "update" => {
                let desc = ev.get_document("updateDescription").unwrap();
                let mut u = doc! {"$set": desc.get_document("updatedFields").unwrap().clone()};
                let removed = desc
                    .get_array("removedFields")
                    .map(|a| a.to_vec())
                    .unwrap_or_default();
                if !removed.is_empty() {
                    let unset: Document = removed
                        .iter()
                        .filter_map(Bson::as_str)
                        .map(|f| (f.to_string(), Bson::Int32(1)))
                        .collect();
                    u.insert("$unset", unset);
                }
                coll.update_one(key, u).await.expect("update");
            }
            "delete" => {
                coll.delete_one(key).await.expect("delete");
            }
            other => panic!("unexpected event {other}"),
        }
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// Bare copy: each collection read in `_id` order and inserted with `insertMany` of 1000,
/// collections in parallel (as the replicator's `copy.parallel_collections`): (docs, bytes, s).
pub async fn copy(source: &Database, target: &Database, colls: &[String]) -> (u64, u64, f64) {
    let started = Instant::now();
    let results = futures::future::join_all(colls.iter().map(|name| async move {
        let mut cursor = source
            .collection::<RawDocumentBuf>(name)
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .batch_size(1000)
            .await
            .expect("find");
        let (mut docs, mut bytes) = (0u64, 0u64);
        let mut batch = Vec::with_capacity(1000);
        while let Some(d) = cursor.try_next().await.expect("read") {
            bytes += d.as_bytes().len() as u64;
            batch.push(d);
            if batch.len() == 1000 {
                docs += batch.len() as u64;
                target
                    .collection::<RawDocumentBuf>(name)
                    .insert_many(std::mem::take(&mut batch))
                    .await
                    .expect("insert");
            }
        }
        if !batch.is_empty() {
            docs += batch.len() as u64;
            target
                .collection::<RawDocumentBuf>(name)
                .insert_many(batch)
                .await
                .expect("insert");
        }
        (docs, bytes)
    }))
    .await;
    let (docs, bytes) = results.iter().fold((0, 0), |(a, b), (d, y)| (a + d, b + y));
    (docs, bytes, started.elapsed().as_secs_f64())
}

/// A bare client: the raw change stream from `token`, one prebuilt statement per event (no
/// coalescing, no checkpoint, no partitioning), ordered raw bulk writes of up to 1000
/// statements per collection and command: the floor for any replicator on this driver.
/// Returns (events/s, CPU seconds of this process meanwhile).
pub async fn pipeline(
    source: &Database,
    target: &Database,
    token: ResumeToken,
    events: usize,
) -> (f64, f64) {
    let started = Instant::now();
    let cpu = crate::cpu_seconds();
    let mut stream = watch_from(source, token)
        .await
        .with_type::<RawDocumentBuf>();
    let mut batch: Option<(String, &str, RawArrayBuf, usize)> = None;
    for _ in 0..events {
        let ev = stream.next().await.expect("event").expect("read event");
        let coll = ev.get_document("ns").unwrap().get_str("coll").unwrap();
        let key = ev.get_document("documentKey").unwrap();
        let mut st = RawDocumentBuf::new();
        st.append_ref("q", key);
        let command = match ev.get_str("operationType").unwrap() {
            "insert" | "replace" => {
                st.append_ref("u", ev.get_document("fullDocument").unwrap());
                st.append("upsert", true);
                "update"
            }
            "update" => {
                let desc = ev.get_document("updateDescription").unwrap();
                let mut u = RawDocumentBuf::new();
                u.append_ref("$set", desc.get_document("updatedFields").unwrap());
                st.append("u", u);
                "update"
            }
            "delete" => {
                st.append("limit", 1);
                "delete"
            }
            other => panic!("unexpected event {other}"),
        };
        let same = matches!(&batch, Some((c, k, _, n)) if c == coll && *k == command && *n < 1000);
        if !same {
            if let Some(b) = batch.take() {
                send(target, b).await;
            }
            batch = Some((coll.to_string(), command, RawArrayBuf::new(), 0));
        }
        let (_, _, statements, n) = batch.as_mut().unwrap();
        statements.push(st);
        *n += 1;
    }
    if let Some(b) = batch {
        send(target, b).await;
    }
    let secs = started.elapsed().as_secs_f64();
    (events as f64 / secs, crate::cpu_seconds() - cpu)
}

async fn send(
    target: &Database,
    (coll, command, statements, _): (String, &str, RawArrayBuf, usize),
) {
    let field = if command == "update" {
        "updates"
    } else {
        "deletes"
    };
    let mut cmd = RawDocumentBuf::new();
    cmd.append(command, coll);
    cmd.append(field, statements);
    cmd.append("ordered", true);
    let reply = target.run_raw_command(cmd).await.expect("bulk write");
    assert!(!reply.contains_key("writeErrors"), "{reply}");
}
