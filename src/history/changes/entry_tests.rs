use super::*;
use crate::source::translate::{ClusterTime, WriteOp};
use bson::{doc, rawdoc, Timestamp};

fn item(id: i32, kind: WriteKind, op_label: Op, inc: u32) -> Item {
    Item {
        seq: u64::from(inc),
        op: WriteOp {
            coll: "c".into(),
            key: doc! {"_id": id}.into(),
            kind,
        },
        op_label,
        wall_ms: Some(1000),
        cluster_time: Some(ClusterTime(Timestamp {
            time: 1,
            increment: inc,
        })),
        coll_uuid: None,
        pre_image: None,
        event: None,
        grant: None,
    }
}

fn refs(items: &[Item]) -> Vec<Batched<'_>> {
    items
        .iter()
        .map(|item| Batched {
            item,
            covered: false,
        })
        .collect()
}

fn delta(set: bson::RawDocumentBuf, unset: &[&str]) -> WriteKind {
    WriteKind::Delta {
        set: crate::source::translate::Body::from_raw(&set),
        unset: unset.iter().map(|s| s.to_string()).collect(),
        truncate: vec![],
    }
}

#[test]
fn each_change_in_a_batch_gets_the_version_the_previous_one_left() {
    let items = vec![
        item(1, delta(rawdoc! {"v": 2}, &["x"]), Op::Update, 1),
        item(
            1,
            WriteKind::upsert(doc! {"_id": 1, "v": 3, "y": 1}),
            Op::Replace,
            2,
        ),
        item(1, WriteKind::Delete, Op::Delete, 3),
        item(2, WriteKind::upsert(doc! {"_id": 2}), Op::Insert, 4),
    ];
    assert_eq!(
        to_read(&refs(&items), &Ahead::new()).get("c").map(Vec::len),
        Some(2)
    );
    let mut backup = HashMap::new();
    backup.insert(
        key_of("c", &Bson::Int32(1)),
        doc! {"_id": 1, "v": 1, "x": true},
    );
    let e = entries(&refs(&items), &backup, &Ahead::new()).entries;
    let before: Vec<&Bson> = e.iter().map(|e| e.get("before").unwrap()).collect();
    assert_eq!(
        before,
        [
            &Bson::Document(doc! {"_id": 1, "v": 1, "x": true}),
            &Bson::Document(doc! {"_id": 1, "v": 2}),
            &Bson::Document(doc! {"_id": 1, "v": 3, "y": 1}),
            &Bson::Null,
        ]
    );
    assert_eq!(e[0].get_array("updated").unwrap(), &vec![Bson::from("v")]);
    assert_eq!(e[0].get_array("removed").unwrap(), &vec![Bson::from("x")]);
    assert_eq!(
        e[1].get_array("updated").unwrap(),
        &vec![Bson::from("v"), Bson::from("y")]
    );
    assert_eq!(e[2].get_str("op").unwrap(), "delete");
    // Deterministic `_id`s: the same batch gives the same entries (a replay is a no-op).
    assert_eq!(entries(&refs(&items), &backup, &Ahead::new()).entries, e);
}

#[test]
fn a_pre_image_wins_and_a_refetch_makes_the_next_version_unknown() {
    let mut first = item(1, WriteKind::Fetch, Op::Update, 1);
    first.pre_image = Some(bson::RawDocumentBuf::from_document(&doc! {"_id": 1, "p": 1}).unwrap());
    let items = vec![first, item(1, delta(rawdoc! {"v": 2}, &[]), Op::Update, 2)];
    assert!(
        to_read(&refs(&items), &Ahead::new()).is_empty(),
        "a pre-image needs no backup read"
    );
    let e = entries(&refs(&items), &HashMap::new(), &Ahead::new()).entries;
    assert_eq!(
        e[0].get_document("before").unwrap(),
        &doc! {"_id": 1, "p": 1}
    );
    assert_eq!(e[1].get("before"), Some(&Bson::Null));
    assert_eq!(e[1].get_bool("before_known"), Ok(false));
}

#[test]
fn a_replayed_delta_applied_by_a_re_read_keeps_its_change() {
    let mut replayed = item(1, delta(rawdoc! {"v": 1}, &[]), Op::Update, 1);
    replayed.refetch();
    assert_eq!(replayed.op.kind, WriteKind::Fetch);
    let items = vec![
        replayed,
        item(1, delta(rawdoc! {"v": 2}, &[]), Op::Update, 2),
    ];
    let mut backup = HashMap::new();
    backup.insert(key_of("c", &Bson::Int32(1)), doc! {"_id": 1, "v": 0});
    let e = entries(&refs(&items), &backup, &Ahead::new()).entries;
    assert_eq!(
        e[0].get_document("before").unwrap(),
        &doc! {"_id": 1, "v": 0}
    );
    assert_eq!(
        e[1].get_document("before").unwrap(),
        &doc! {"_id": 1, "v": 1}
    );
}

#[test]
fn a_change_covered_by_a_re_read_continues_the_chain_from_the_ahead_version() {
    let mut replayed = item(1, delta(rawdoc! {"v": 1}, &[]), Op::Update, 1);
    replayed.refetch();
    let mut backup = HashMap::new();
    backup.insert(key_of("c", &Bson::Int32(1)), doc! {"_id": 1, "v": 0});
    let first = entries(
        &refs(std::slice::from_ref(&replayed)),
        &backup,
        &Ahead::new(),
    );
    let mut ahead = Ahead::new();
    for (key, keep) in first.ahead {
        ahead.insert(key, keep.expect("a re-read leaves the backup ahead"));
    }
    // The backup now holds a later version (v 5); a covered change reads the chain instead.
    let later = item(1, delta(rawdoc! {"v": 2}, &[]), Op::Update, 2);
    let covered = [Batched {
        item: &later,
        covered: true,
    }];
    assert!(to_read(&covered, &ahead).is_empty());
    let second = entries(&covered, &HashMap::new(), &ahead);
    assert_eq!(
        second.entries[0].get_document("before").unwrap(),
        &doc! {"_id": 1, "v": 1}
    );
    // Without the chain's version a covered change's `before` is unknown, never the backup's.
    let alone = entries(&covered, &HashMap::new(), &Ahead::new());
    assert_eq!(alone.entries[0].get_bool("before_known"), Ok(false));
}
