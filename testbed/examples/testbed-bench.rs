//! Throughput of the testbed through the official driver:
//! `cargo run --release -p mongo-testbed --example testbed-bench [-- DOCS]`
//! prints `insert_docs_per_s=N` (insert_many batches of 1000 ~1 KB documents) and
//! `change_stream_events_per_s=N` (one reader draining the backlog those inserts left).

use futures::StreamExt;
use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::bson::{doc, Document};
use mongodb::Client;
use std::time::Instant;

const BATCH: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let tb = Testbed::start(TestbedOptions::default()).await?;
    let client = Client::with_uri_str(tb.uri()).await?;
    let coll = client.database("bench").collection::<Document>("docs");
    coll.insert_one(doc! {"_id": -1}).await?;

    // The stream's start point, taken before the backlog is written.
    let mut probe = coll.watch().await?;
    let _ = probe.next_if_any().await?;
    let token = probe.resume_token().ok_or("no resume token")?;
    drop(probe);

    let pad = "x".repeat(1000);
    let start = Instant::now();
    for b in 0..total.div_ceil(BATCH) {
        let docs: Vec<Document> = (b * BATCH..((b + 1) * BATCH).min(total))
            .map(|i| doc! {"_id": i as i64, "pad": &pad})
            .collect();
        coll.insert_many(docs).await?;
    }
    let insert_rate = total as f64 / start.elapsed().as_secs_f64();
    println!("insert_docs_per_s={insert_rate:.0}");

    let start = Instant::now();
    let mut stream = coll
        .watch()
        .resume_after(token)
        .batch_size(BATCH as u32)
        .await?;
    let mut seen = 0usize;
    while seen < total {
        match stream.next().await {
            Some(event) => {
                event?;
                seen += 1;
            }
            None => return Err("change stream ended early".into()),
        }
    }
    let event_rate = total as f64 / start.elapsed().as_secs_f64();
    println!("change_stream_events_per_s={event_rate:.0}");
    tb.shutdown().await;
    Ok(())
}
