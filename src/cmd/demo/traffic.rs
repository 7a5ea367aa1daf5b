//! The order-traffic generator of `demo`: inserts new orders, moves their status forward
//! (`$set` + `$push` to the history), cancels some (deletes).

use bson::{doc, oid::ObjectId, DateTime, Document};
use mongodb::Database;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const STATUSES: &[&str] = &["new", "paid", "packed", "shipped", "delivered"];
const SKUS: &[&str] = &[
    "kbd-01",
    "mouse-02",
    "cable-03",
    "monitor-04",
    "dock-05",
    "chair-06",
];

/// One random order document.
pub fn order(rng: &mut StdRng) -> Document {
    let lines: Vec<Document> = (0..rng.gen_range(1..4))
        .map(|_| {
            doc! {
                "sku": SKUS[rng.gen_range(0..SKUS.len())],
                "qty": rng.gen_range(1..5),
                "price": bson::Decimal128::from_bytes(price_bytes(rng.gen_range(100..50_000))),
            }
        })
        .collect();
    doc! {
        "_id": ObjectId::new(),
        "customer": format!("customer-{}", rng.gen_range(0..500)),
        "status": "new",
        "lines": lines,
        "createdAt": DateTime::now(),
        "history": [{"status": "new", "at": DateTime::now()}],
    }
}

/// A Decimal128 of `cents / 100`, built as the IEEE 754-2008 BID encoding with exponent -2.
fn price_bytes(cents: u64) -> [u8; 16] {
    let exponent: u128 = (6176 - 2) as u128;
    let bits: u128 = (exponent << 113) | cents as u128;
    bits.to_le_bytes()
}

/// Inserts `n` orders in batches.
pub async fn seed(db: &Database, n: u64, seed: u64) -> mongodb::error::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let orders = db.collection::<Document>("orders");
    let mut left = n;
    while left > 0 {
        let k = left.min(1000);
        let batch: Vec<Document> = (0..k).map(|_| order(&mut rng)).collect();
        orders.insert_many(batch).await?;
        left -= k;
    }
    Ok(())
}

/// Counts of what the generator did.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrafficStats {
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
}

/// Runs order traffic at about `rate` operations per second until `stop`.
pub async fn run(
    db: Database,
    rate: u64,
    seed: u64,
    stop: CancellationToken,
) -> mongodb::error::Result<TrafficStats> {
    let mut rng = StdRng::seed_from_u64(seed);
    let orders = db.collection::<Document>("orders");
    let mut stats = TrafficStats::default();
    let mut recent: Vec<ObjectId> = Vec::new();
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    let mut done = 0u64;
    while !stop.is_cancelled() {
        let roll = rng.gen_range(0..100);
        if roll < 40 || recent.is_empty() {
            let o = order(&mut rng);
            recent.push(o.get_object_id("_id").expect("_id"));
            orders.insert_one(o).await?;
            stats.inserts += 1;
        } else if roll < 88 {
            let id = recent[rng.gen_range(0..recent.len())];
            let status = STATUSES[rng.gen_range(1..STATUSES.len())];
            orders
                .update_one(doc! {"_id": id}, doc! {"$set": {"status": status, "updatedAt": DateTime::now()}, "$push": {"history": {"status": status, "at": DateTime::now()}}})
                .await?;
            stats.updates += 1;
        } else {
            let i = rng.gen_range(0..recent.len());
            let id = recent.swap_remove(i);
            orders.delete_one(doc! {"_id": id}).await?;
            stats.deletes += 1;
        }
        if recent.len() > 5000 {
            recent.drain(..1000);
        }
        done += 1;
        let due = started + period * done as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => break,
            }
        }
    }
    Ok(stats)
}
