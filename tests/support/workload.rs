//! A seeded random workload over several collections: inserts, replaces, deletes and operator
//! updates (nested documents, arrays, `$unset`, `$push`/`$pull`/`$pop`, `$inc`, `$addToSet`),
//! documents carrying many BSON types and `_id`s of several kinds; and [`Traffic`], the one
//! background-traffic loop that runs it while a test does something else.

use bson::spec::BinarySubtype;
use bson::{
    doc, oid::ObjectId, Binary, Bson, DateTime, Document, JavaScriptCodeWithScope, Regex, Timestamp,
};
use mongodb::Database;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

pub const COLLECTIONS: &[&str] = &["orders", "customers", "events"];

pub struct Workload {
    rng: StdRng,
    ids: Vec<Vec<Bson>>,
    next: i64,
    pub ops: u64,
}

impl Workload {
    pub fn new(seed: u64) -> Self {
        Workload {
            rng: StdRng::seed_from_u64(seed),
            ids: vec![Vec::new(); COLLECTIONS.len()],
            next: 0,
            ops: 0,
        }
    }

    fn new_id(&mut self) -> Bson {
        self.next += 1;
        match self.rng.gen_range(0..4) {
            0 => Bson::ObjectId(ObjectId::new()),
            1 => Bson::String(format!("id-{}-ü", self.next)),
            2 => Bson::Int64(self.next),
            _ => Bson::Document(
                doc! {"region": (["eu", "us"][self.rng.gen_range(0..2)]), "n": self.next as i32},
            ),
        }
    }

    /// A document with many BSON types.
    pub fn document(&mut self, id: Bson) -> Document {
        let r = &mut self.rng;
        let mut d = doc! {
            "_id": id,
            "n": r.gen_range(-1000..1000),
            "l": r.gen::<i64>(),
            "d": r.gen_range(-1e6..1e6),
            "s": (["plain", "ünïcødé ✓", "", "with \"quotes\""][r.gen_range(0..4)]),
            "b": r.gen_bool(0.5),
            "dt": DateTime::from_millis(r.gen_range(-5_000_000_000_000i64..5_000_000_000_000)),
            "oid": ObjectId::new(),
            "dec": Bson::Decimal128(bson::Decimal128::from_bytes(r.gen::<u64>().to_le_bytes().iter().chain([0u8, 0, 0, 0, 0, 0, 0x40, 0x30].iter()).copied().collect::<Vec<u8>>().try_into().unwrap())),
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: (0..r.gen_range(0..16)).map(|_| r.gen()).collect() },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).map(|_| r.gen()).collect() },
            "re": Regex { pattern: "^ord-[0-9]+$".into(), options: "i".into() },
            "js": Bson::JavaScriptCode("function() { return 1; }".into()),
            "jsws": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "x".into(), scope: doc! {"x": 1} }),
            "ts": Timestamp { time: r.gen_range(1..2_000_000_000), increment: r.gen_range(0..100) },
            "min": Bson::MinKey,
            "max": Bson::MaxKey,
            "nul": Bson::Null,
            "nested": {"a": {"b": [1, 2, {"c": "x"}], "k": r.gen_range(0..10)}, "z": true},
            "arr": (0..r.gen_range(0..6)).map(Bson::Int32).collect::<Vec<_>>(),
            "tags": ["red", "blue"],
        };
        if r.gen_bool(0.1) {
            d.insert("counter", 0);
        }
        d
    }

    fn update(&mut self) -> Document {
        let r = &mut self.rng;
        match r.gen_range(0..12) {
            0 => {
                doc! {"$set": {"s": format!("set-{}", r.gen::<u16>()), "nested.a.k": r.gen_range(0..100)}}
            }
            1 => doc! {"$unset": {"n": ""}},
            2 => doc! {"$inc": {"counter": 1}},
            3 => doc! {"$push": {"arr": r.gen_range(0..100)}},
            4 => doc! {"$push": {"arr": {"$each": [7, 8, 9], "$slice": -4}}},
            5 => doc! {"$pull": {"arr": {"$lt": 3}}},
            6 => doc! {"$pop": {"arr": if r.gen_bool(0.5) { 1 } else { -1 }}},
            7 => doc! {"$set": {"nested.new": {"deep": {"er": [1, {"x": Bson::Null}]}}}},
            8 => doc! {"$addToSet": {"tags": (["red", "green", "blue"][r.gen_range(0..3)])}},
            9 => doc! {"$set": {"arr.0": 99}},
            10 => doc! {"$unset": {"nested.a.b": "", "tags": ""}},
            _ => doc! {"$set": {"when": DateTime::now(), "d": r.gen_range(-1.0..1.0)}},
        }
    }

    /// Runs `n` random operations against `db`; server-side rejections (e.g. `$inc` on a field a
    /// replace removed) are ignored: they change nothing and emit no event.
    pub async fn run(&mut self, db: &Database, n: u64) {
        for _ in 0..n {
            let c = self.rng.gen_range(0..COLLECTIONS.len());
            let coll = db.collection::<Document>(COLLECTIONS[c]);
            let roll = self.rng.gen_range(0..100);
            if roll < 35 || self.ids[c].len() < 5 {
                let id = self.new_id();
                let d = self.document(id.clone());
                if coll.insert_one(d).await.is_ok() {
                    self.ids[c].push(id);
                }
            } else {
                let i = self.rng.gen_range(0..self.ids[c].len());
                let id = self.ids[c][i].clone();
                if roll < 50 {
                    let d = self.document(id.clone());
                    let _ = coll.replace_one(doc! {"_id": id}, d).await;
                } else if roll < 60 {
                    let _ = coll.delete_one(doc! {"_id": id}).await;
                    self.ids[c].swap_remove(i);
                } else {
                    let u = self.update();
                    let _ = coll.update_one(doc! {"_id": id}, u).await;
                }
            }
            self.ops += 1;
        }
    }
}

/// What [`Traffic`] does in each round, besides `ops` workload operations.
#[derive(Debug, Clone, Copy)]
pub struct TrafficPlan {
    /// Workload operations per round.
    pub ops: u64,
    /// Sleep after each round.
    pub pause: Duration,
    /// Random DDL steps ([`super::faults::ddl_step`]) per round.
    pub ddl_steps: usize,
    /// One numbered insert into collection `acked` per round; the acknowledged numbers are
    /// returned, to prove none of them is lost.
    pub acked: bool,
    /// Stop by itself after this many rounds (else only at [`Traffic::stop`]).
    pub rounds: Option<usize>,
}

impl TrafficPlan {
    /// `ops` workload operations per round, `pause` between rounds, until stopped.
    pub fn new(ops: u64, pause: Duration) -> TrafficPlan {
        TrafficPlan {
            ops,
            pause,
            ddl_steps: 0,
            acked: false,
            rounds: None,
        }
    }
}

/// The source changing in the background while a test crashes, blocks or cuts the replicator:
/// a [`Workload`] seeded with `seed + 1` (DDL steps with `seed + 2`), round after round.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Vec<i64>>,
}

impl Traffic {
    pub fn start(db: &Database, seed: u64, plan: TrafficPlan) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut w = Workload::new(seed + 1);
                let mut rng = StdRng::seed_from_u64(seed + 2);
                let acked_coll = db.collection::<Document>("acked");
                let mut acked = Vec::new();
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) && !matches!(plan.rounds, Some(n) if round >= n)
                {
                    round += 1;
                    w.run(&db, plan.ops).await;
                    for _ in 0..plan.ddl_steps {
                        super::faults::ddl_step(&db, &mut rng).await;
                    }
                    if plan.acked {
                        let i = round as i64;
                        if acked_coll.insert_one(doc! {"_id": i}).await.is_ok() {
                            acked.push(i);
                        }
                    }
                    if !plan.pause.is_zero() {
                        tokio::time::sleep(plan.pause).await;
                    }
                }
                acked
            })
        };
        Traffic { stop, task }
    }

    /// Stops after the current round; the acknowledged `acked` numbers.
    pub async fn stop(self) -> Vec<i64> {
        self.stop.store(true, Ordering::Relaxed);
        self.finish().await
    }

    /// Waits for the planned rounds to end; the acknowledged `acked` numbers.
    pub async fn finish(self) -> Vec<i64> {
        self.task.await.expect("traffic task")
    }
}
