use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

fn rule(source: &str, target: Option<&str>, exclude: bool) -> NamespaceRule {
    NamespaceRule {
        source: source.into(),
        target: target.map(Into::into),
        exclude,
    }
}

fn ns(db: &str, coll: &str) -> Namespace {
    Namespace::new(db, coll)
}

fn compile(rules: &[NamespaceRule]) -> Result<Namespaces, RuleError> {
    Namespaces::compile(rules, "ordersDB", "ordersDB_backup")
}

#[test]
fn the_first_matching_rule_wins_and_excludes_select_nothing() {
    let n = compile(&[
        rule("ordersDB.sessions", None, true),
        rule("ordersDB.tmp_*", None, true),
        rule("ordersDB.*", None, false),
    ])
    .unwrap();
    assert_eq!(n.map(&ns("ordersDB", "sessions")), None);
    assert_eq!(n.map(&ns("ordersDB", "tmp_1")), None);
    assert_eq!(
        n.map(&ns("ordersDB", "orders")),
        Some(ns("ordersDB_backup", "orders"))
    );
    assert_eq!(
        n.map(&ns("usersDB", "users")),
        None,
        "no rule selects usersDB"
    );
}

#[test]
fn templates_rename_and_other_databases_default_to_db_backup() {
    let n = compile(&[
        rule(
            "ordersDB.orders",
            Some("ordersDB_backup.orders_archive"),
            false,
        ),
        rule("usersDB.*", None, false),
        rule("/logs[0-9]+\\.events/", Some("{db}_bk.{coll}"), false),
    ])
    .unwrap();
    assert_eq!(
        n.map(&ns("ordersDB", "orders")),
        Some(ns("ordersDB_backup", "orders_archive"))
    );
    assert_eq!(
        n.map(&ns("usersDB", "users")),
        Some(ns("usersDB_backup", "users"))
    );
    assert_eq!(
        n.map(&ns("logs12", "events")),
        Some(ns("logs12_bk", "events"))
    );
    assert_eq!(n.map(&ns("logsX", "events")), None);
    assert_eq!(n.single_database(), None);
}

#[test]
fn system_collections_and_databases_are_never_selected() {
    let n = compile(&[rule("*.*", Some("{db}_bk.{coll}"), false)]).unwrap();
    assert_eq!(n.map(&ns("ordersDB", "system.views")), None);
    assert_eq!(n.map(&ns("admin", "users")), None);
    assert_eq!(n.map(&ns("local", "oplog.rs")), None);
    assert_eq!(
        n.stream_filter(),
        bson::doc! {"$or": [
            {"ns.db": {"$nin": ["admin", "config", "local"]}},
            {"to.db": {"$nin": ["admin", "config", "local"]}},
        ]}
    );
}

#[test]
fn the_shorthand_keeps_todays_meaning() {
    let all = Namespaces::shorthand("ordersDB", None, "ordersDB_backup");
    assert_eq!(all.single_database(), Some("ordersDB"));
    assert_eq!(
        all.map(&ns("ordersDB", "a.b")),
        Some(ns("ordersDB_backup", "a.b"))
    );
    let listed = vec!["orders".to_string(), "we*rd".to_string()];
    let some = Namespaces::shorthand("ordersDB", Some(&listed), "bk");
    assert_eq!(
        some.map(&ns("ordersDB", "orders")),
        Some(ns("bk", "orders"))
    );
    assert_eq!(some.map(&ns("ordersDB", "we*rd")), Some(ns("bk", "we*rd")));
    assert_eq!(
        some.map(&ns("ordersDB", "weird")),
        None,
        "a listed name is not a glob"
    );
    assert_eq!(some.map(&ns("ordersDB", "users")), None);
    assert_eq!(
        some.stream_filter(),
        bson::doc! {"$or": [{"ns.db": {"$in": ["ordersDB"]}}, {"to.db": {"$in": ["ordersDB"]}}]}
    );
}

#[test]
fn each_bad_rule_is_named() {
    let cases = [
        (
            vec![rule("nodot", None, false)],
            "namespaces[0].source",
            "database.collection",
        ),
        (
            vec![rule("/(/", None, false)],
            "namespaces[0].source",
            "regex",
        ),
        (
            vec![rule("/open", None, false)],
            "namespaces[0].source",
            "closing",
        ),
        (
            vec![rule("a.*", None, false), rule("b.*", Some("x"), false)],
            "namespaces[1].target",
            "database.collection",
        ),
        (
            vec![rule("a.b", Some("c.d"), true)],
            "namespaces[0].target",
            "excluded",
        ),
        (
            vec![rule("a.tmp_*", Some("a_bk.tmp"), false)],
            "namespaces[0].target",
            "same place",
        ),
        (
            vec![rule("*.orders", Some("all.{coll}"), false)],
            "namespaces[0].target",
            "same place",
        ),
        (
            vec![
                rule("a.x", Some("bk.same"), false),
                rule("a.y", Some("bk.same"), false),
            ],
            "namespaces[1]",
            "both go to bk.same",
        ),
    ];
    for (rules, key, words) in cases {
        let err = compile(&rules).unwrap_err();
        assert_eq!(err.key, key, "{err}");
        assert!(
            err.to_string()
                .to_lowercase()
                .contains(&words.to_lowercase()),
            "{err} does not say {words:?}"
        );
    }
}

#[test]
fn collisions_among_listed_names_are_caught() {
    let n = compile(&[rule("*.*", Some("all.{db}{coll}"), false)]).unwrap();
    let names = [ns("ab", "c"), ns("a", "bc")];
    let err = n.check_distinct(names.iter()).unwrap_err();
    assert!(err.to_string().contains("both go to all.abc"), "{err}");
    // A target that is also a replicated name: fine across two deployments, refused on one.
    let feeding = compile(&[rule("ordersDB.*", Some("ordersDB.{coll}_copy"), false)]).unwrap();
    let names = [ns("ordersDB", "orders"), ns("ordersDB", "orders_copy")];
    assert_eq!(feeding.check_distinct(names.iter()), Ok(()));
    let err = feeding.same_deployment_problem().unwrap();
    assert!(err.to_string().contains("feed itself"), "{err}");
    let literal = compile(&[rule("a.x", Some("a.y"), false), rule("a.y", None, false)]);
    assert!(literal.is_ok(), "two deployments: nothing loops");
}

#[test]
fn renames_across_the_filter_boundary() {
    let n = compile(&[
        rule("ordersDB.tmp_*", None, true),
        rule("ordersDB.*", None, false),
    ])
    .unwrap();
    let (tmp, orders, old) = (
        ns("ordersDB", "tmp_9"),
        ns("ordersDB", "orders"),
        ns("ordersDB", "old"),
    );
    assert_eq!(
        n.rename_effect(&tmp, &orders),
        RenameEffect::IntoSelected {
            to: ns("ordersDB_backup", "orders")
        }
    );
    assert_eq!(
        n.rename_effect(&orders, &tmp),
        RenameEffect::OutOfSelected {
            from: ns("ordersDB_backup", "orders")
        }
    );
    assert_eq!(
        n.rename_effect(&orders, &old),
        RenameEffect::Within {
            from: ns("ordersDB_backup", "orders"),
            to: ns("ordersDB_backup", "old")
        }
    );
    assert_eq!(
        n.rename_effect(&tmp, &ns("ordersDB", "tmp_2")),
        RenameEffect::Outside
    );
}

fn name() -> impl Strategy<Value = String> {
    "[a-c_]{1,3}"
}

proptest! {
    /// `check_distinct` refuses exactly when the mapping of the listed names is not one to
    /// one.
    #[test]
    fn check_distinct_agrees_with_brute_force(
        names in proptest::collection::vec((name(), name()), 0..8),
        template in prop::sample::select(vec!["{db}.{coll}_b", "b.{db}{coll}", "{db}_bk.{coll}", "{coll}.{db}"]),
    ) {
        let n = compile(&[rule("*.*", Some(template), false)]).unwrap();
        let names: Vec<Namespace> = names.iter().map(|(d, c)| ns(d, c)).collect::<HashSet<_>>().into_iter().collect();
        let targets: Vec<Namespace> = names.iter().filter_map(|s| n.map(s)).collect();
        let distinct = targets.iter().collect::<HashSet<_>>().len() == targets.len();
        prop_assert_eq!(n.check_distinct(names.iter()).is_ok(), distinct);
    }

    /// The shorthand over a whole database and the rule `db.*` map every name the same way.
    #[test]
    fn shorthand_and_db_star_agree(db in "[a-z]{1,4}", coll in "[a-z.]{1,6}") {
        let short = Namespaces::shorthand("ordersDB", None, "ordersDB_backup");
        let rules = compile(&[rule("ordersDB.*", None, false)]).unwrap();
        for ns in [ns("ordersDB", &coll), ns(&db, &coll)] {
            prop_assert_eq!(short.map(&ns), rules.map(&ns));
        }
    }
}

#[test]
fn on_one_deployment_database_patterns_and_self_feeding_targets_are_refused() {
    let glob = compile(&[rule("*.orders", Some("{db}_bk.orders"), false)]).unwrap();
    let e = glob.same_deployment_problem().unwrap();
    assert_eq!(e.key, "namespaces[0].source");
    let feeds = compile(&[
        rule("ordersDB.*", Some("usersDB.{coll}"), false),
        rule("usersDB.*", None, false),
    ])
    .unwrap();
    let e = feeds.same_deployment_problem().unwrap();
    assert_eq!(e.key, "namespaces[0].target");
    assert!(e.message.contains("usersDB"), "{}", e.message);
    let fine = compile(&[
        rule("ordersDB.sessions", None, true),
        rule("ordersDB.*", None, false),
        rule("usersDB.*", None, false),
    ])
    .unwrap();
    assert_eq!(fine.same_deployment_problem(), None);
}

#[test]
fn a_regex_naming_one_database_counts_as_that_database() {
    let one = compile(&[rule(r"/^ordersDB\.(a|b)$/", None, false)]).unwrap();
    assert_eq!(one.single_database(), Some("ordersDB"));
    assert_eq!(one.same_deployment_problem(), None);
    assert_eq!(
        one.map(&ns("ordersDB", "a")),
        Some(ns("ordersDB_backup", "a"))
    );
    assert_eq!(one.map(&ns("ordersDB", "ab")), None);
    for open in [
        r"/ordersDB\.a|usersDB\.b/",
        r"/orders.*\.a/",
        r"/orders+DB\.a/",
    ] {
        let n = compile(&[rule(open, Some("bk.{db}_{coll}"), false)]).unwrap();
        assert_eq!(n.single_database(), None, "{open}");
        assert!(n.same_deployment_problem().is_some(), "{open}");
    }
}
