use super::*;
use bson::doc;

fn coll(spec: Document) -> Collation {
    Collation::parse(&spec).unwrap().expect("not simple")
}

fn sorted(c: &Collation, words: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = words.iter().map(|s| s.to_string()).collect();
    v.sort_by_key(|s| c.key(s));
    v
}

fn eq(c: &Collation, a: &str, b: &str) -> bool {
    c.key(a) == c.key(b)
}

#[test]
fn strength_three_orders_lowercase_before_uppercase_of_the_same_letter() {
    let c = coll(doc! {"locale": "en"});
    assert_eq!(sorted(&c, &["B", "b", "A", "a"]), ["a", "A", "b", "B"]);
    // Binary order puts every uppercase letter first.
    assert_eq!(c.cmp(&Bson::from("B"), &Bson::from("a")), Ordering::Greater);
    assert!(!eq(&c, "abc", "ABC"));
}

#[test]
fn strengths_one_and_two_ignore_case_and_two_sees_accents() {
    let s1 = coll(doc! {"locale": "en", "strength": 1});
    let s2 = coll(doc! {"locale": "en_US", "strength": 2});
    assert!(eq(&s1, "abc", "ABC") && eq(&s2, "abc", "ABC"));
    assert!(eq(&s1, "café", "CAFE"));
    assert!(!eq(&s2, "café", "cafe"));
    assert_eq!(
        sorted(&s2, &["cafë", "café", "cafe"]),
        ["cafe", "café", "cafë"]
    );
    // A primary difference anywhere beats an accent earlier in the string.
    assert_eq!(sorted(&s2, &["éb", "ea"]), ["ea", "éb"]);
}

#[test]
fn case_level_and_case_first() {
    let cl = coll(doc! {"locale": "en", "strength": 1, "caseLevel": true});
    assert!(!eq(&cl, "a", "A"));
    assert!(eq(&cl, "é", "e"));
    let upper = coll(doc! {"locale": "en", "caseFirst": "upper"});
    assert_eq!(sorted(&upper, &["a", "A", "b", "B"]), ["A", "a", "B", "b"]);
}

#[test]
fn numeric_ordering_compares_digit_runs_as_numbers() {
    let plain = coll(doc! {"locale": "en"});
    let numeric = coll(doc! {"locale": "en", "numericOrdering": true});
    assert_eq!(sorted(&plain, &["10", "9", "2"]), ["10", "2", "9"]);
    assert_eq!(sorted(&numeric, &["10", "9", "2"]), ["2", "9", "10"]);
    assert_eq!(sorted(&numeric, &["a10", "a9b"]), ["a9b", "a10"]);
}

#[test]
fn punctuation_sorts_before_digits_and_letters_and_shifted_ignores_it() {
    let c = coll(doc! {"locale": "en"});
    assert_eq!(sorted(&c, &["a", "1", "_", " "]), [" ", "_", "1", "a"]);
    let shifted = coll(doc! {"locale": "en", "alternate": "shifted"});
    assert!(eq(&shifted, "a-b", "ab") && eq(&shifted, "a b", "ab"));
    let space = coll(doc! {"locale": "en", "alternate": "shifted", "maxVariable": "space"});
    assert!(eq(&space, "a b", "ab") && !eq(&space, "a-b", "ab"));
    let quaternary = coll(doc! {"locale": "en", "alternate": "shifted", "strength": 4});
    assert!(!eq(&quaternary, "a-b", "ab"));
}

#[test]
fn backwards_compares_accents_from_the_end() {
    let fwd = coll(doc! {"locale": "en", "strength": 2});
    let back = coll(doc! {"locale": "en", "strength": 2, "backwards": true});
    // cote < coté < côte < côté forwards; cote < côte < coté < côté backwards (French).
    let words = ["côté", "coté", "côte", "cote"];
    assert_eq!(sorted(&fwd, &words), ["cote", "coté", "côte", "côté"]);
    assert_eq!(sorted(&back, &words), ["cote", "côte", "coté", "côté"]);
}

#[test]
fn identical_strength_breaks_ties_by_code_points() {
    let c = coll(doc! {"locale": "en", "strength": 5});
    assert!(!eq(&c, "a\u{1}", "a"));
    let s3 = coll(doc! {"locale": "en"});
    assert!(eq(&s3, "a\u{1}", "a"), "control characters are ignorable");
}

#[test]
fn the_stored_document_has_every_field_in_mongod_order() {
    let d = coll(doc! {"locale": "en_US", "strength": 2}).to_document();
    assert_eq!(
        d,
        doc! {
            "locale": "en_US", "caseLevel": false, "caseFirst": "off", "strength": 2,
            "numericOrdering": false, "alternate": "non-ignorable", "maxVariable": "punct",
            "normalization": false, "backwards": false, "version": "57.1",
        }
    );
    assert_eq!(Collation::parse(&d).unwrap().unwrap().to_document(), d);
}

#[test]
fn simple_unknown_and_unimplemented_options_are_refused_or_binary() {
    assert_eq!(Collation::parse(&doc! {"locale": "simple"}).unwrap(), None);
    let code = |d: Document| Collation::parse(&d).unwrap_err().code;
    assert_eq!(code(doc! {"locale": "simple", "strength": 2}), 2);
    assert_eq!(code(doc! {"strength": 2}), 40414);
    assert_eq!(code(doc! {"locale": "en", "colour": 1}), 40415);
    assert_eq!(code(doc! {"locale": "fr"}), 2);
    assert_eq!(code(doc! {"locale": "en", "strength": 6}), 2);
    assert_eq!(code(doc! {"locale": "en", "normalization": true}), 2);
    assert_eq!(code(doc! {"locale": "en", "caseFirst": "sideways"}), 2);
    assert_eq!(code(doc! {"locale": "en", "caseLevel": 1}), 14);
}

#[test]
fn nested_strings_are_collated_too() {
    let c = coll(doc! {"locale": "en", "strength": 2});
    let a = Bson::Document(doc! {"k": ["X", 1]});
    let b = Bson::Document(doc! {"k": ["x", 1]});
    assert_eq!(c.cmp(&a, &b), Ordering::Equal);
    assert_ne!(crate::compare::cmp_bson(&a, &b), Ordering::Equal);
}
