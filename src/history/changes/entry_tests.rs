use super::*;
use crate::source::translate::{ClusterTime, WriteOp};
use bson::{doc, rawdoc, Timestamp};

fn item(id: i32, kind: WriteKind, op_label: Op, inc: u32) -> Item {
    Item {
        seq: u64::from(inc),
        op: WriteOp {
            coll: "c".into(),
            key: doc! {"_id": id},
            kind,
        },
        op_label,
        wall_ms: Some(1000),
        cluster_time: Some(ClusterTime(Timestamp { time: 1, increment: inc })),
        coll_uuid: None,
        pre_image: None,
        grant: None,
    }
}

fn delta(set: bson::RawDocumentBuf, unset: &[&str]) -> WriteKind {
    WriteKind::Delta {
        set: std::sync::Arc::new(set),
        unset: unset.iter().map(|s| s.to_string()).collect(),
        truncate: vec![],
    }
}

#[test]
fn each_change_in_a_batch_gets_the_version_the_previous_one_left() {
    let items = vec![
        item(1, delta(rawdoc! {"v": 2}, &["x"]), Op::Update, 1),
        item(1, WriteKind::upsert(doc! {"_id": 1, "v": 3, "y": 1}), Op::Replace, 2),
        item(1, WriteKind::Delete, Op::Delete, 3),
        item(2, WriteKind::upsert(doc! {"_id": 2}), Op::Insert, 4),
    ];
    assert_eq!(to_read(&items).get("c").map(Vec::len), Some(2));
    let mut backup = HashMap::new();
    backup.insert(key_of("c", &Bson::Int32(1)), doc! {"_id": 1, "v": 1, "x": true});
    let e = entries(&items, &backup);
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
    assert_eq!(entries(&items, &backup), e);
}

#[test]
fn a_pre_image_wins_and_a_refetch_makes_the_next_version_unknown() {
    let mut first = item(1, WriteKind::Fetch, Op::Update, 1);
    first.pre_image = Some(bson::RawDocumentBuf::from_document(&doc! {"_id": 1, "p": 1}).unwrap());
    let items = vec![first, item(1, delta(rawdoc! {"v": 2}, &[]), Op::Update, 2)];
    assert!(to_read(&items).is_empty(), "a pre-image needs no backup read");
    let e = entries(&items, &HashMap::new());
    assert_eq!(e[0].get_document("before").unwrap(), &doc! {"_id": 1, "p": 1});
    assert_eq!(e[1].get("before"), Some(&Bson::Null));
    assert_eq!(e[1].get_bool("before_known"), Ok(false));
}
