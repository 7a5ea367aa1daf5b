//! The names the pipeline uses for replicated collections ("keys"), and where each one lives on
//! either side. Every stage below the stream (routing, writers, checkpoint lists, verify,
//! history, parked items) knows a collection only by its key; the source and target
//! namespaces are computed from it here. Pure: no I/O.
//!
//! A key is the source collection's name when one source database is selected (so a
//! one-database configuration reads exactly as before), and `"db.coll"` when several are: a
//! database name never holds a dot, so the first dot splits it back.

use super::{Namespace, Namespaces, RenameEffect, RuleError};
use bson::Document;

/// The compiled rules and the key format they imply.
#[derive(Debug, Clone)]
pub struct Scope {
    names: Namespaces,
    /// The one selected source database, when there is one (keys are then plain names).
    single: Option<String>,
    /// [`Scope::key_of`]'s last answer.
    last: LastKey,
}

/// The last `(db, coll, key)` looked up; a clone starts empty (it is only a cache).
#[derive(Debug, Default)]
struct LastKey(parking_lot::Mutex<Option<(String, String, Option<String>)>>);

impl Clone for LastKey {
    fn clone(&self) -> Self {
        LastKey::default()
    }
}

impl Scope {
    pub fn new(names: Namespaces) -> Self {
        let single = names.single_database().map(str::to_string);
        Self {
            names,
            single,
            last: LastKey::default(),
        }
    }

    /// The `source.database` / `source.collections` shorthand.
    pub fn shorthand(source_db: &str, collections: Option<&[String]>, target_db: &str) -> Self {
        Self::new(Namespaces::shorthand(source_db, collections, target_db))
    }

    /// The rules themselves.
    pub fn rules(&self) -> &Namespaces {
        &self.names
    }

    /// The one selected source database: a database-level change stream suffices.
    pub fn single_database(&self) -> Option<&str> {
        self.single.as_deref()
    }

    /// [`Scope::key`] of `db.coll`, remembered for the last namespace asked: a stream's events
    /// come in runs of one collection, so the rules run once per change of namespace, not per
    /// event (they were 2% of the replicator's CPU).
    pub fn key_of(&self, db: &str, coll: &str) -> Option<String> {
        let mut last = self.last.0.lock();
        if let Some((d, c, key)) = last.as_ref() {
            if d == db && c == coll {
                return key.clone();
            }
        }
        let key = self.key(&Namespace::new(db, coll));
        *last = Some((db.to_string(), coll.to_string(), key.clone()));
        key
    }

    /// The key of a source namespace when it is replicated.
    pub fn key(&self, ns: &Namespace) -> Option<String> {
        self.names.map(ns)?;
        Some(self.key_unchecked(ns))
    }

    fn key_unchecked(&self, ns: &Namespace) -> String {
        match &self.single {
            Some(_) => ns.coll.clone(),
            None => ns.to_string(),
        }
    }

    /// The source namespace of `key`.
    pub fn source_of(&self, key: &str) -> Namespace {
        match &self.single {
            Some(db) => Namespace::new(db, key),
            None => match key.split_once('.') {
                Some((db, coll)) => Namespace::new(db, coll),
                None => Namespace::new("", key),
            },
        }
    }

    /// The target namespace of `key`. A key no rule selects any more (a name kept from an
    /// earlier configuration) goes where a rule without `target` would send it.
    pub fn target_of(&self, key: &str) -> Namespace {
        let source = self.source_of(key);
        self.names.map(&source).unwrap_or_else(|| Namespace {
            db: self.names.default_target_database(&source.db),
            coll: source.coll,
        })
    }

    /// The key whose target is `t` by the default mapping read backwards (the configured
    /// target database is the configured source's, `X_backup` is `X`'s, same collection
    /// name), when that name is replicated there. Lets a listing of the target recognise
    /// collections of its own databases that no source collection explains any more.
    pub fn key_of_target(&self, t: &Namespace) -> Option<String> {
        let source_db = self.names.default_source_database();
        let db = match t.db == self.names.default_target_database(source_db) {
            true => source_db,
            false => t.db.strip_suffix("_backup")?,
        };
        let key = self.key(&Namespace::new(db, &t.coll))?;
        (self.target_of(&key) == *t).then_some(key)
    }

    /// True when `key` belongs to source database `db`.
    pub fn in_database(&self, key: &str, db: &str) -> bool {
        self.source_of(key).db == db
    }

    /// The target database a source `dropDatabase` drops whole: only when one database is
    /// replicated under its own collection names, so the target database holds nothing else.
    /// Otherwise the `drop` events the server sends for each collection before it do the work.
    pub fn whole_database_target(&self) -> Option<String> {
        let db = self.single.as_deref()?;
        (!self.names.has_targets()).then(|| self.names.default_target_database(db))
    }

    /// The target database of names that are not retargeted: `target.database` for the
    /// configured source database.
    pub fn default_target_database(&self) -> String {
        let db = match &self.single {
            Some(db) => db.as_str(),
            None => self.names.default_source_database(),
        };
        self.names.default_target_database(db)
    }

    /// Server-side filter of a database-level stream: the collection names, when every
    /// selecting rule is a plain name (the exact choice is still made on each event).
    pub fn stream_collections(&self) -> Option<Vec<String>> {
        self.single.as_ref()?;
        self.names.literal_collections()
    }

    /// The `$match` of a cluster-level stream on `ns` / `to` (a superset of the selection).
    pub fn cluster_filter(&self) -> Document {
        self.names.stream_filter()
    }

    /// What a source rename means for the backup, in keys.
    pub fn rename(&self, from: &Namespace, to: &Namespace) -> KeyRename {
        match self.names.rename_effect(from, to) {
            RenameEffect::Within { .. } => {
                KeyRename::Within(self.key_unchecked(from), self.key_unchecked(to))
            }
            RenameEffect::IntoSelected { .. } => KeyRename::Into(self.key_unchecked(to)),
            RenameEffect::OutOfSelected { .. } => KeyRename::OutOf(self.key_unchecked(from)),
            RenameEffect::Outside => KeyRename::Outside,
        }
    }

    /// Fails when two of these source namespaces go to one target, or a target is itself
    /// replicated (checked on every listing, since globs meet names only there).
    pub fn check_distinct<'a>(
        &self,
        names: impl IntoIterator<Item = &'a Namespace>,
    ) -> Result<(), RuleError> {
        self.names.check_distinct(names)
    }
}

/// [`RenameEffect`] in keys.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRename {
    Within(String, String),
    Into(String),
    OutOf(String),
    Outside,
}

#[cfg(test)]
mod tests {
    use super::super::NamespaceRule;
    use super::*;
    use proptest::prelude::*;

    fn rules(list: &[(&str, Option<&str>, bool)]) -> Scope {
        let rules: Vec<NamespaceRule> = list
            .iter()
            .map(|(s, t, e)| NamespaceRule {
                source: s.to_string(),
                target: t.map(str::to_string),
                exclude: *e,
            })
            .collect();
        Scope::new(Namespaces::compile(&rules, "ordersDB", "ordersDB_backup").unwrap())
    }

    #[test]
    fn one_database_keys_are_collection_names_and_the_shorthand_maps_them_as_before() {
        let s = Scope::shorthand("ordersDB", None, "backup");
        assert_eq!(
            s.key(&Namespace::new("ordersDB", "a.b")),
            Some("a.b".into())
        );
        assert_eq!(s.key(&Namespace::new("other", "a")), None);
        assert_eq!(s.target_of("a.b"), Namespace::new("backup", "a.b"));
        assert_eq!(s.source_of("a.b"), Namespace::new("ordersDB", "a.b"));
        assert_eq!(s.whole_database_target(), Some("backup".into()));
        assert_eq!(s.stream_collections(), None);
        let listed = ["x".to_string(), "y".to_string()];
        let s = Scope::shorthand("ordersDB", Some(&listed), "backup");
        assert_eq!(s.stream_collections(), Some(listed.to_vec()));
    }

    #[test]
    fn several_databases_use_qualified_keys() {
        let s = rules(&[("ordersDB.*", None, false), ("usersDB.*", None, false)]);
        assert_eq!(s.single_database(), None);
        let k = s.key(&Namespace::new("usersDB", "u.v")).unwrap();
        assert_eq!(k, "usersDB.u.v");
        assert_eq!(s.target_of(&k), Namespace::new("usersDB_backup", "u.v"));
        assert_eq!(
            s.target_of("ordersDB.o"),
            Namespace::new("ordersDB_backup", "o")
        );
        assert!(s.in_database(&k, "usersDB") && !s.in_database(&k, "ordersDB"));
        assert_eq!(s.default_target_database(), "ordersDB_backup");
        assert_eq!(s.whole_database_target(), None);
        assert_eq!(
            s.key_of_target(&Namespace::new("usersDB_backup", "u")),
            Some("usersDB.u".into())
        );
        assert_eq!(s.key_of_target(&Namespace::new("other", "u")), None);
    }

    #[test]
    fn a_retargeted_database_is_never_dropped_whole() {
        let s = rules(&[("ordersDB.orders", Some("ordersDB_backup.archive"), false)]);
        assert_eq!(s.single_database(), Some("ordersDB"));
        assert_eq!(
            s.target_of("orders"),
            Namespace::new("ordersDB_backup", "archive")
        );
        assert_eq!(s.whole_database_target(), None);
    }

    #[test]
    fn renames_across_the_selection_become_copies_or_drops() {
        let s = rules(&[("ordersDB.tmp*", None, true), ("ordersDB.*", None, false)]);
        let n = |c: &str| Namespace::new("ordersDB", c);
        assert_eq!(
            s.rename(&n("a"), &n("b")),
            KeyRename::Within("a".into(), "b".into())
        );
        assert_eq!(s.rename(&n("tmp1"), &n("b")), KeyRename::Into("b".into()));
        assert_eq!(s.rename(&n("a"), &n("tmp1")), KeyRename::OutOf("a".into()));
        assert_eq!(s.rename(&n("tmp1"), &n("tmp2")), KeyRename::Outside);
    }

    proptest! {
        /// The cached lookup answers what the rules answer, whatever the order of namespaces
        /// (repeated, alternating, excluded, other databases).
        #[test]
        fn the_last_namespace_cache_answers_as_the_rules(
            asks in proptest::collection::vec((0..3usize, 0..4usize), 1..40)
        ) {
            let s = rules(&[("ordersDB.tmp*", None, true), ("ordersDB.*", None, false), ("usersDB.u", None, false)]);
            let dbs = ["ordersDB", "usersDB", "other"];
            let colls = ["a", "tmp1", "u", "b.c"];
            for (d, c) in asks {
                let ns = Namespace::new(dbs[d], colls[c]);
                prop_assert_eq!(s.key_of(dbs[d], colls[c]), s.key(&ns));
            }
        }

        /// Whatever the key format, a selected name's key leads back to it.
        #[test]
        fn a_key_leads_back_to_its_source(db in "[a-z]{1,5}", coll in "[a-z.]{1,8}", multi: bool) {
            let s = match multi {
                true => rules(&[("*.*", None, false)]),
                false => Scope::shorthand(&db, None, "t"),
            };
            prop_assume!(!["admin", "config", "local"].contains(&db.as_str()));
            prop_assume!(!coll.starts_with("system."));
            let ns = Namespace::new(&db, &coll);
            let key = s.key(&ns).unwrap();
            prop_assert_eq!(s.source_of(&key), ns);
        }
    }
}
