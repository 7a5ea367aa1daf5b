//! The benchmark workload, generated deterministically so the backlog writer and the bare
//! write ceiling send the same operations without holding them in memory: rounds of, per
//! collection, 1000 inserts of ~1 KB documents, then delta updates, replaces and deletes of the
//! previous round's documents, and a few updates of the fresh ones (coalescable).

use bson::{doc, Document};

pub const COLLECTIONS: usize = 4;
const INSERTS: i64 = 1000;
/// Events of one collection-round: 1000 inserts + 500 updates + 200 replaces + 100 deletes
/// + 300 updates of fresh documents.
pub const EVENTS_PER_STEP: usize = 2100;

pub fn coll_name(c: usize) -> String {
    format!("c{c}")
}

fn body(id: i64, version: i64) -> Document {
    doc! {
        "_id": id,
        "name": format!("customer-{id}"),
        "status": "new",
        "v": version,
        "tags": ["a", "b", "c"],
        "address": {"city": "Lyon", "zip": "69001", "line": format!("{id} rue de la Paix")},
        "pad": "x".repeat(850),
    }
}

/// A write command on the source (`insert` / `update` / `delete`) or its replicated form on
/// the target (inserts become replace-upserts, as the replicator sends them).
pub enum Form {
    Source,
    Target,
}

/// The commands of one collection-round `(round, c)`, in order.
pub fn step(round: usize, c: usize, form: Form) -> Vec<Document> {
    let coll = coll_name(c);
    let base = round as i64 * INSERTS;
    let fresh: Vec<Document> = (base..base + INSERTS).map(|id| body(id, 0)).collect();
    let mut cmds = Vec::new();
    cmds.push(match form {
        Form::Source => doc! {"insert": &coll, "documents": fresh, "ordered": true},
        Form::Target => {
            let ups: Vec<Document> = fresh
                .into_iter()
                .map(|d| doc! {"q": {"_id": d.get_i64("_id").unwrap()}, "u": d, "upsert": true})
                .collect();
            doc! {"update": &coll, "updates": ups, "ordered": true}
        }
    });
    // Values differ per round and kind: a no-op update would produce no event.
    let set = |id: i64, tag: &str| {
        let status = format!("{tag}-{round}");
        doc! {"q": {"_id": id}, "u": {"$set": {"status": status, "n": id, "address.city": "Paris"}}}
    };
    let prev = base - INSERTS;
    if round > 0 {
        let ups: Vec<Document> = (prev..prev + 500).map(|id| set(id, "paid")).collect();
        cmds.push(doc! {"update": &coll, "updates": ups, "ordered": true});
        let reps: Vec<Document> = (prev + 500..prev + 700)
            .map(|id| doc! {"q": {"_id": id}, "u": body(id, 1), "upsert": true})
            .collect();
        cmds.push(doc! {"update": &coll, "updates": reps, "ordered": true});
        let dels: Vec<Document> = (prev + 700..prev + 800)
            .map(|id| doc! {"q": {"_id": id}, "limit": 1})
            .collect();
        cmds.push(doc! {"delete": &coll, "deletes": dels, "ordered": true});
    }
    let ups: Vec<Document> = (base..base + 300).map(|id| set(id, "new")).collect();
    cmds.push(doc! {"update": &coll, "updates": ups, "ordered": true});
    cmds
}

/// Events produced by one collection-round.
pub fn step_events(round: usize) -> usize {
    if round == 0 {
        1300
    } else {
        EVENTS_PER_STEP
    }
}

/// The steps `(round, c)` of rounds `rounds`, collections interleaved.
pub fn steps(rounds: std::ops::Range<usize>) -> impl Iterator<Item = (usize, usize)> {
    rounds.flat_map(|r| (0..COLLECTIONS).map(move |c| (r, c)))
}

/// The source's resume token now: where the change stream of a backlog written next starts.
pub async fn start_token(source: &mongodb::Database) -> mongodb::change_stream::event::ResumeToken {
    let stream = source.watch().await.unwrap();
    stream.resume_token().expect("token")
}

/// Writes rounds `rounds` of the backlog on the source.
pub async fn write(source: &mongodb::Database, rounds: std::ops::Range<usize>) {
    for (r, c) in steps(rounds) {
        for cmd in step(r, c, Form::Source) {
            source.run_command(cmd).await.unwrap();
        }
    }
}

/// Rounds needed for at least `events` events, and the exact event count.
pub fn rounds_for(events: usize) -> (usize, usize) {
    let (mut rounds, mut total) = (0, 0);
    while total < events {
        total += step_events(rounds) * COLLECTIONS;
        rounds += 1;
    }
    (rounds, total)
}
