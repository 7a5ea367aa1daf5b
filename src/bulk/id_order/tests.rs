use super::numbers::Exact;
use super::*;
use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp};

fn dec(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().expect(s))
}

fn oid(last: u8) -> ObjectId {
    let mut b = [0u8; 12];
    b[11] = last;
    ObjectId::from_bytes(b)
}

fn bin(subtype: BinarySubtype, bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype,
        bytes: bytes.to_vec(),
    })
}

fn regex(pattern: &str, options: &str) -> Bson {
    Bson::RegularExpression(Regex {
        pattern: pattern.into(),
        options: options.into(),
    })
}

/// bson 2.x has no public DbPointer constructor: decode one from raw BSON.
fn db_pointer(ns: &str, id: ObjectId) -> Bson {
    let mut value = Vec::new();
    value.extend_from_slice(&(ns.len() as i32 + 1).to_le_bytes());
    value.extend_from_slice(ns.as_bytes());
    value.push(0);
    value.extend_from_slice(&id.bytes());
    let mut doc = Vec::new();
    doc.extend_from_slice(&((4 + 1 + 2 + value.len() + 1) as i32).to_le_bytes());
    doc.push(0x0C);
    doc.extend_from_slice(b"p\0");
    doc.extend_from_slice(&value);
    doc.push(0);
    let d = Document::from_reader(&doc[..]).expect("dbpointer document");
    let v = d.get("p").expect("p").clone();
    assert!(matches!(v, Bson::DbPointer(_)));
    v
}

fn code_w_scope(code: &str, scope: Document) -> Bson {
    Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
        code: code.into(),
        scope,
    })
}

/// Groups of values in MongoDB's sort order: values within a group compare Equal, every
/// group sorts strictly before the next.
fn ordered_groups() -> Vec<Vec<Bson>> {
    vec![
        vec![Bson::MinKey],
        vec![Bson::Undefined],
        vec![Bson::Null],
        vec![Bson::Double(f64::NAN), dec("NaN"), Bson::Double(-f64::NAN)],
        vec![Bson::Double(f64::NEG_INFINITY), dec("-Infinity")],
        vec![dec("-1E+400")],
        vec![
            Bson::Int64(i64::MIN),
            Bson::Double(-9_223_372_036_854_775_808.0),
        ],
        vec![Bson::Int32(-5), dec("-5.0"), Bson::Double(-5.0)],
        vec![
            Bson::Int32(0),
            Bson::Int64(0),
            Bson::Double(0.0),
            Bson::Double(-0.0),
            dec("0"),
            dec("-0E+3"),
        ],
        vec![dec("4.94E-324")],
        vec![Bson::Double(5e-324)],
        vec![dec("4.95E-324")],
        vec![dec("0.1")],
        vec![dec("0.1000000000000000055511151231257827")],
        vec![Bson::Double(0.1)],
        vec![dec("0.1000000000000000055511151231257828")],
        vec![
            Bson::Int32(1),
            Bson::Int64(1),
            Bson::Double(1.0),
            dec("1"),
            dec("1.000"),
            dec("0.01E+2"),
        ],
        vec![Bson::Double(1.5), dec("1.5")],
        vec![Bson::Int64(2), Bson::Int32(2)],
        vec![
            Bson::Int64(9_007_199_254_740_992),
            Bson::Double(9_007_199_254_740_992.0),
        ],
        vec![Bson::Int64(9_007_199_254_740_993), dec("9007199254740993")],
        vec![Bson::Double(9_007_199_254_740_994.0)],
        vec![Bson::Int64(i64::MAX)],
        vec![Bson::Double(9.3e18)],
        vec![dec("1E+400")],
        vec![Bson::Double(f64::INFINITY), dec("Infinity")],
        vec![Bson::String(String::new()), Bson::Symbol(String::new())],
        vec![Bson::String("B".into())],
        vec![Bson::String("a".into()), Bson::Symbol("a".into())],
        vec![Bson::String("a\0".into())],
        vec![Bson::String("ab".into())],
        vec![Bson::String("é".into())],
        vec![Bson::Document(doc! {})],
        vec![Bson::Document(doc! {"a": Bson::Null})],
        vec![
            Bson::Document(doc! {"a": 1}),
            Bson::Document(doc! {"a": 1.0}),
        ],
        vec![Bson::Document(doc! {"a": 1, "b": 0})],
        vec![Bson::Document(doc! {"b": 0})],
        // A string field sorts after any number field, whatever the field names.
        vec![Bson::Document(doc! {"a": "x"})],
        vec![Bson::Array(vec![])],
        vec![Bson::Array(vec![Bson::Null])],
        vec![
            Bson::Array(vec![Bson::Int32(1)]),
            Bson::Array(vec![Bson::Double(1.0)]),
        ],
        vec![Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)])],
        vec![Bson::Array(vec![Bson::Int32(2)])],
        vec![Bson::Array(vec![Bson::String("a".into())])],
        vec![bin(BinarySubtype::Generic, &[])],
        vec![bin(BinarySubtype::Uuid, &[])],
        vec![bin(BinarySubtype::Generic, &[0xff])],
        vec![bin(BinarySubtype::Generic, &[0, 0])],
        vec![bin(BinarySubtype::Generic, &[1, 0])],
        vec![bin(BinarySubtype::Generic, &[0, 0, 0, 0, 0])],
        // Subtype 2 is 4 bytes longer on the wire than its bson `bytes`.
        vec![bin(BinarySubtype::BinaryOld, &[9])],
        vec![bin(BinarySubtype::Generic, &[0, 0, 0, 0, 0, 0])],
        vec![Bson::ObjectId(oid(0))],
        vec![Bson::ObjectId(oid(1))],
        vec![Bson::ObjectId(ObjectId::from_bytes([0xff; 12]))],
        vec![Bson::Boolean(false)],
        vec![Bson::Boolean(true)],
        vec![Bson::DateTime(DateTime::from_millis(-1))],
        vec![Bson::DateTime(DateTime::from_millis(0))],
        vec![Bson::DateTime(DateTime::from_millis(1))],
        vec![Bson::Timestamp(Timestamp {
            time: 1,
            increment: 5,
        })],
        vec![Bson::Timestamp(Timestamp {
            time: 2,
            increment: 0,
        })],
        vec![Bson::Timestamp(Timestamp {
            time: u32::MAX,
            increment: 0,
        })],
        vec![regex("a", "")],
        vec![regex("a", "i")],
        vec![regex("b", "")],
        vec![db_pointer("db.c", oid(0))],
        vec![db_pointer("db.c", oid(1))],
        // A longer namespace sorts later even though "a" < "d".
        vec![db_pointer("a.bcd", oid(0))],
        vec![Bson::JavaScriptCode("a".into())],
        vec![Bson::JavaScriptCode("b".into())],
        vec![code_w_scope("a", doc! {})],
        vec![code_w_scope("a", doc! {"x": 1})],
        vec![code_w_scope("b", doc! {})],
        vec![Bson::MaxKey],
    ]
}

fn examples() -> Vec<Bson> {
    ordered_groups().into_iter().flatten().collect()
}

/// The `$type` aliases named anywhere in a filter built by `after_id_filter`.
fn later_types(filter: &Document) -> Vec<String> {
    let clauses: Vec<Document> = match filter.get_array("$or") {
        Ok(or) => or
            .iter()
            .map(|c| c.as_document().unwrap().clone())
            .collect(),
        Err(_) => vec![filter.clone()],
    };
    clauses
        .iter()
        .filter_map(|c| c.get_document("_id").unwrap().get_array("$type").ok())
        .flat_map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()))
        .collect()
}

/// mongod's matching of `{_id: {<op>: rhs}}` for `$gt`/`$gte`
/// (`ComparisonMatchExpressionBase::compare`).
fn server_compare_matches(gte: bool, e: &Bson, rhs: &Bson) -> bool {
    assert!(
        !matches!(rhs, Bson::Undefined | Bson::RegularExpression(_)),
        "mongod rejects $gt/$gte with {rhs:?}"
    );
    if type_rank(e) != type_rank(rhs) {
        let pair = [type_alias(e), type_alias(rhs)];
        if pair == ["null", "undefined"] || pair == ["undefined", "null"] {
            return gte;
        }
        return matches!(rhs, Bson::MinKey);
    }
    let nan = |v: &Bson| Num::of(v).is_some_and(Num::is_nan);
    if nan(e) || nan(rhs) {
        return gte && nan(e) && nan(rhs);
    }
    let c = cmp_ids(e, rhs);
    c == Ordering::Greater || (gte && c == Ordering::Equal)
}

/// Whether mongod would return a document with this `_id` for an `after_id_filter` result.
fn server_matches(filter: &Document, id: &Bson) -> bool {
    if let Ok(or) = filter.get_array("$or") {
        return or
            .iter()
            .any(|c| server_matches(c.as_document().unwrap(), id));
    }
    assert_eq!(filter.len(), 1);
    let cond = filter.get_document("_id").unwrap();
    assert_eq!(cond.len(), 1);
    let (op, rhs) = cond.iter().next().unwrap();
    match op.as_str() {
        "$type" => rhs
            .as_array()
            .unwrap()
            .contains(&Bson::String(type_alias(id).to_string())),
        "$gt" => server_compare_matches(false, id, rhs),
        "$gte" => server_compare_matches(true, id, rhs),
        other => panic!("unexpected operator {other}"),
    }
}

#[test]
fn order_table_follows_mongod_and_names_every_type_once() {
    assert!(ORDER.windows(2).all(|w| w[0].0 < w[1].0));
    let mut all: Vec<&str> = ORDER.iter().flat_map(|(_, a)| a.iter().copied()).collect();
    assert_eq!(all.len(), 21);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 21, "an alias appears twice");
    for v in examples() {
        assert!(ORDER[type_rank(&v) as usize].1.contains(&type_alias(&v)));
    }
}

#[test]
fn type_ranks_follow_documented_order() {
    let one_per_type = [
        Bson::MinKey,
        Bson::Undefined,
        Bson::Null,
        Bson::Int32(1),
        Bson::String("a".into()),
        Bson::Document(doc! {}),
        Bson::Array(vec![]),
        bin(BinarySubtype::Generic, &[]),
        Bson::ObjectId(oid(0)),
        Bson::Boolean(false),
        Bson::DateTime(DateTime::from_millis(0)),
        Bson::Timestamp(Timestamp {
            time: 0,
            increment: 0,
        }),
        regex("a", ""),
        db_pointer("db.c", oid(0)),
        Bson::JavaScriptCode("a".into()),
        code_w_scope("a", doc! {}),
        Bson::MaxKey,
    ];
    let ranks: Vec<u8> = one_per_type.iter().map(type_rank).collect();
    assert_eq!(ranks, (0..17).collect::<Vec<u8>>());
    for v in [Bson::Double(1.0), Bson::Int64(1), dec("1")] {
        assert_eq!(type_rank(&v), type_rank(&Bson::Int32(1)));
    }
    assert_eq!(
        type_rank(&Bson::Symbol("a".into())),
        type_rank(&Bson::String("a".into()))
    );
}

#[test]
fn cmp_ids_sorts_examples_in_mongodb_order() {
    let groups = ordered_groups();
    for (i, gi) in groups.iter().enumerate() {
        for (j, gj) in groups.iter().enumerate() {
            for a in gi {
                for b in gj {
                    assert_eq!(cmp_ids(a, b), i.cmp(&j), "{a:?} vs {b:?}");
                }
            }
        }
    }
    // Sorting a shuffled copy gives back the documented order.
    let mut shuffled = examples();
    shuffled.reverse();
    shuffled.rotate_left(17);
    shuffled.sort_by(cmp_ids);
    let group_of = |v: &Bson| {
        groups
            .iter()
            .position(|g| g.iter().any(|x| cmp_ids(x, v).is_eq()))
    };
    let idx: Vec<usize> = shuffled.iter().map(|v| group_of(v).unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] <= w[1]), "{idx:?}");
}

#[test]
fn mixed_numbers() {
    use Ordering::*;
    assert_eq!(cmp_ids(&Bson::Int32(1), &Bson::Int64(1)), Equal);
    assert_eq!(cmp_ids(&Bson::Int64(1), &Bson::Double(1.0)), Equal);
    assert_eq!(cmp_ids(&Bson::Int32(1), &Bson::Double(1.5)), Less);
    assert_eq!(cmp_ids(&Bson::Double(1.5), &Bson::Int64(2)), Less);
    assert_eq!(
        cmp_ids(&Bson::Double(f64::NAN), &Bson::Double(f64::NEG_INFINITY)),
        Less
    );
    assert_eq!(cmp_ids(&dec("NaN"), &Bson::Double(f64::NAN)), Equal);
    assert_eq!(cmp_ids(&Bson::Int64(i64::MAX), &Bson::Double(9.3e18)), Less);
    assert_eq!(
        cmp_ids(
            &Bson::Int64(i64::MAX),
            &Bson::Double(9_223_372_036_854_775_807.0)
        ),
        Less
    );
    assert_eq!(
        cmp_ids(&dec("9223372036854775807"), &Bson::Int64(i64::MAX)),
        Equal
    );
    assert_eq!(cmp_ids(&dec("0.1"), &Bson::Double(0.1)), Less);
    assert_eq!(cmp_ids(&dec("0.5"), &Bson::Double(0.5)), Equal);
    assert_eq!(cmp_ids(&dec("-0.5"), &Bson::Double(-0.25)), Less);
    assert_eq!(cmp_ids(&dec("-1E+400"), &Bson::Double(-f64::MAX)), Less);
}

#[test]
fn decimal_decoding_agrees_with_to_string() {
    for s in [
        "0",
        "-0",
        "1",
        "-1",
        "1.5",
        "-1.5",
        "0.001",
        "123456789012345678901234567890.1234",
        "1E+400",
        "-1E-400",
        "9.999999999999999999999999999999999E+6144",
        "1E-6176",
        "Infinity",
        "-Infinity",
        "12345E-10",
    ] {
        let d: Decimal128 = s.parse().expect(s);
        let text = d.to_string();
        let exact = Exact::of_decimal(d).expect("not NaN");
        // Re-derive the value from the text form and compare exactly.
        let from_text = match text.as_str() {
            "Infinity" => Exact::PosInf,
            "-Infinity" => Exact::NegInf,
            t => {
                let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
                let (mant, exp) = t.split_once('E').unwrap_or((t, "0"));
                let exp: i64 = exp.trim_start_matches('+').parse().unwrap();
                let frac = mant.split_once('.').map_or(0, |(_, f)| f.len() as i64);
                let digits: Vec<u8> = mant.bytes().filter(|c| *c != b'.').collect();
                Exact::from_digits(neg, &digits, exp - frac)
            }
        };
        assert_eq!(exact, from_text, "{s} printed as {text}");
    }
    assert!(Exact::of_decimal("NaN".parse().unwrap()).is_none());
}

#[test]
fn cmp_ids_is_antisymmetric_reflexive_and_transitive() {
    let ex = examples();
    for a in &ex {
        assert_eq!(cmp_ids(a, a), Ordering::Equal, "{a:?}");
        for b in &ex {
            assert_eq!(cmp_ids(a, b), cmp_ids(b, a).reverse(), "{a:?} vs {b:?}");
            for c in &ex {
                if cmp_ids(a, b).is_le() && cmp_ids(b, c).is_le() {
                    assert!(cmp_ids(a, c).is_le(), "{a:?} <= {b:?} <= {c:?}");
                }
            }
        }
    }
}

#[test]
fn after_int() {
    let f = after_id_filter(&Bson::Int32(5));
    let later = [
        "string",
        "symbol",
        "object",
        "array",
        "binData",
        "objectId",
        "bool",
        "date",
        "timestamp",
        "regex",
        "dbPointer",
        "javascript",
        "javascriptWithScope",
        "maxKey",
    ];
    let later: Vec<Bson> = later.iter().map(|s| Bson::String(s.to_string())).collect();
    assert_eq!(
        f,
        doc! {"$or": [{"_id": {"$gt": 5}}, {"_id": {"$type": later}}]}
    );
}

#[test]
fn after_null_excludes_undefined() {
    let f = after_id_filter(&Bson::Null);
    let types = later_types(&f);
    assert_eq!(types[..4], ["double", "int", "long", "decimal"]);
    assert!(!types.contains(&"undefined".to_string()));
    assert!(!types.contains(&"null".to_string()));
    assert_eq!(types.last().unwrap(), "maxKey");
    assert_eq!(
        f.get_array("$or").unwrap()[0],
        Bson::Document(doc! {"_id": {"$gt": Bson::Null}})
    );
    // After undefined: null and everything later, and no `$gt: undefined` (mongod rejects it).
    let u = after_id_filter(&Bson::Undefined);
    assert!(u.get("$or").is_none());
    assert_eq!(later_types(&u)[0], "null");
}

#[test]
fn after_max_key_and_nan() {
    assert_eq!(
        after_id_filter(&Bson::MaxKey),
        doc! {"_id": {"$gt": Bson::MaxKey}}
    );
    let f = after_id_filter(&Bson::Double(f64::NAN));
    assert_eq!(
        f.get_array("$or").unwrap()[0],
        Bson::Document(doc! {"_id": {"$gte": f64::NEG_INFINITY}})
    );
    assert_eq!(later_types(&f)[0], "string");
}

#[test]
fn type_list_holds_exactly_the_later_ranks() {
    let ex = examples();
    for a in &ex {
        let types = later_types(&after_id_filter(a));
        for b in &ex {
            assert_eq!(
                types.contains(&type_alias(b).to_string()),
                type_rank(b) > type_rank(a),
                "after {a:?}: {b:?}"
            );
        }
    }
}

/// Property over every pair of examples: the server returns `b` for `after_id_filter(a)`
/// exactly when `b` sorts after `a`. Regex is left out: mongod rejects `$gt: /re/` and regex
/// `_id`s, so its filter deliberately matches only later ranks.
#[test]
fn filter_matches_exactly_the_later_ids() {
    let ex = examples();
    for a in ex
        .iter()
        .filter(|a| !matches!(a, Bson::RegularExpression(_)))
    {
        let f = after_id_filter(a);
        for b in &ex {
            assert_eq!(
                server_matches(&f, b),
                cmp_ids(b, a) == Ordering::Greater,
                "after {a:?} ({f}): {b:?}"
            );
        }
    }
}
