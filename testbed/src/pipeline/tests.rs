use super::Pipeline;
use bson::{doc, Bson, Document};

fn run(stages: Vec<Document>, input: Vec<Document>) -> Vec<Document> {
    Pipeline::new(&stages).unwrap().run(input).unwrap()
}

fn sample() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "k": "a", "n": 1, "t": ["x"]},
        doc! {"_id": 2, "k": "b", "n": 2},
        doc! {"_id": 3, "k": "a", "n": 3},
    ]
}

#[test]
fn match_sort_skip_limit_count() {
    let out = run(
        vec![
            doc! {"$match": {"n": {"$gte": 2}}},
            doc! {"$sort": {"n": -1}},
        ],
        sample(),
    );
    assert_eq!(
        out.iter()
            .map(|d| d.get_i32("_id").unwrap())
            .collect::<Vec<_>>(),
        vec![3, 2]
    );
    let out = run(vec![doc! {"$skip": 1}, doc! {"$limit": 1}], sample());
    assert_eq!(out, vec![sample()[1].clone()]);
    assert_eq!(
        run(vec![doc! {"$count": "c"}], sample()),
        vec![doc! {"c": 3}]
    );
    assert!(run(
        vec![doc! {"$match": {"n": 9}}, doc! {"$count": "c"}],
        sample()
    )
    .is_empty());
}

#[test]
fn group_accumulators() {
    let out = run(
        vec![
            doc! {"$group": {
                "_id": "$k",
                "sum": {"$sum": "$n"}, "avg": {"$avg": "$n"}, "min": {"$min": "$n"}, "max": {"$max": "$n"},
                "first": {"$first": "$n"}, "last": {"$last": "$n"}, "all": {"$push": "$n"},
                "set": {"$addToSet": "$k"}, "count": {"$count": {}}, "ones": {"$sum": 1}
            }},
            doc! {"$sort": {"_id": 1}},
        ],
        sample(),
    );
    assert_eq!(
        out[0],
        doc! {"_id": "a", "sum": 4, "avg": 2.0, "min": 1, "max": 3, "first": 1, "last": 3, "all": [1, 3], "set": ["a"], "count": 2, "ones": 2}
    );
    assert_eq!(out[1].get_i32("sum").unwrap(), 2);
    let total = run(
        vec![doc! {"$group": {"_id": null, "n": {"$sum": 1}}}],
        sample(),
    );
    assert_eq!(total, vec![doc! {"_id": Bson::Null, "n": 3}]);
    let by_doc = run(
        vec![
            doc! {"$group": {"_id": {"key": "$k"}}},
            doc! {"$sort": {"_id.key": 1}},
        ],
        sample(),
    );
    assert_eq!(by_doc[0], doc! {"_id": {"key": "a"}});
}

#[test]
fn per_document_stages_and_run_one() {
    let p = Pipeline::new(&[
        doc! {"$match": {"k": "a"}},
        doc! {"$addFields": {"double": {"$multiply": ["$n", 2]}, "sub.x": 1}},
        doc! {"$unset": "t"},
        doc! {"$project": {"double": 1, "sub": 1}},
    ])
    .unwrap();
    assert_eq!(p.leading_match(), Some(&doc! {"k": "a"}));
    assert_eq!(
        p.run_one(sample()[0].clone()).unwrap(),
        Some(doc! {"_id": 1, "double": 2, "sub": {"x": 1}})
    );
    assert_eq!(p.run_one(sample()[1].clone()).unwrap(), None);
    let r = Pipeline::new(&[doc! {"$replaceRoot": {"newRoot": {"id": "$_id"}}}]).unwrap();
    assert_eq!(
        r.run_one(sample()[0].clone()).unwrap(),
        Some(doc! {"id": 1})
    );
    let g = Pipeline::new(&[doc! {"$group": {"_id": null}}]).unwrap();
    assert!(g.run_one(doc! {}).is_err());
}

#[test]
fn unknown_stage_is_named() {
    let e = Pipeline::new(&[doc! {"$foo": {}}]).unwrap_err();
    assert_eq!(e.code, 40324);
    assert_eq!(e.errmsg, "Unrecognized pipeline stage name: '$foo'");
    assert_eq!(
        Pipeline::new(&[doc! {"$limit": 0}]).unwrap_err().code,
        15958
    );
}

#[test]
fn expressions() {
    use super::expr::eval;
    let d = doc! {"a": 2, "s": "x", "arr": [{"v": 1}, {"v": 2}], "n": null};
    assert_eq!(
        eval(&Bson::String("$arr.v".into()), &d).unwrap(),
        bson::bson!([1, 2])
    );
    assert_eq!(
        eval(&bson::bson!({"$concat": ["$s", "y"]}), &d).unwrap(),
        bson::bson!("xy")
    );
    assert_eq!(
        eval(
            &bson::bson!({"$cond": [{"$gt": ["$a", 1]}, "big", "small"]}),
            &d
        )
        .unwrap(),
        bson::bson!("big")
    );
    assert_eq!(
        eval(&bson::bson!({"$ifNull": ["$n", "$missing", 7]}), &d).unwrap(),
        bson::bson!(7)
    );
    assert_eq!(
        eval(&bson::bson!({"$sum": "$arr.v"}), &d).unwrap(),
        bson::bson!(3)
    );
    assert_eq!(
        eval(&bson::bson!({"$literal": "$a"}), &d).unwrap(),
        bson::bson!("$a")
    );
    assert_eq!(
        eval(&bson::bson!({"$size": "$arr"}), &d).unwrap(),
        bson::bson!(2)
    );
    assert!(eval(&bson::bson!({"$nope": 1}), &d).is_err());
}
