//! Compiling `[[namespaces]]` rules, with every configuration error naming its rule, and
//! mapping names through them.

use super::{NamePattern, Namespace, NamespaceRule, RenameEffect, Template};
use bson::{doc, Bson, Document};
use std::collections::BTreeMap;

/// A bad rule: the key (`namespaces[2].source`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct RuleError {
    pub key: String,
    pub message: String,
}

/// A bad rule stops a job like any configuration error, under the rule's key.
impl From<RuleError> for crate::error::Error {
    fn from(e: RuleError) -> Self {
        use crate::error::{Class, ErrorKind};
        crate::error::Error::new(ErrorKind::Config, Class::Fatal, e.key, e.message)
    }
}

/// Databases never replicated, whatever a pattern says: the server's own.
const SYSTEM_DATABASES: [&str; 3] = ["admin", "config", "local"];

#[derive(Debug, Clone)]
enum SourcePattern {
    Split {
        db: NamePattern,
        coll: NamePattern,
    },
    /// A regex on the whole name, and the database it names literally, if it does.
    Whole(NamePattern, Option<String>),
}

impl SourcePattern {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(re) = text.strip_prefix('/') {
            let re = re
                .strip_suffix('/')
                .ok_or_else(|| format!("{text:?} opens a /regex/ without closing it"))?;
            let db = regex_database(re);
            return NamePattern::regex(re).map(|p| SourcePattern::Whole(p, db));
        }
        let (db, coll) = text.split_once('.').ok_or_else(|| {
            format!("{text:?} is not \"database.collection\" (use \"db.*\" for a whole database)")
        })?;
        if db.contains(['/', '\\', ' ', '"', '$']) {
            return Err(format!(
                "{text:?}: a database name cannot hold / \\ space \" $"
            ));
        }
        Ok(SourcePattern::Split {
            db: NamePattern::glob(db).map_err(|e| format!("{text:?}: {e} before the dot"))?,
            coll: NamePattern::glob(coll).map_err(|e| format!("{text:?}: {e} after the dot"))?,
        })
    }

    fn matches(&self, ns: &Namespace) -> bool {
        match self {
            SourcePattern::Split { db, coll } => db.matches(&ns.db) && coll.matches(&ns.coll),
            SourcePattern::Whole(re, _) => re.matches(&ns.to_string()),
        }
    }

    fn literal_db(&self) -> Option<&str> {
        match self {
            SourcePattern::Split { db, .. } => db.literal(),
            SourcePattern::Whole(_, db) => db.as_deref(),
        }
    }

    fn literal(&self) -> Option<Namespace> {
        match self {
            SourcePattern::Split { db, coll } => {
                Some(Namespace::new(db.literal()?, coll.literal()?))
            }
            SourcePattern::Whole(..) => None,
        }
    }

    fn varies_db(&self) -> bool {
        self.literal_db().is_none()
    }

    fn varies_coll(&self) -> bool {
        match self {
            SourcePattern::Split { coll, .. } => coll.literal().is_none(),
            SourcePattern::Whole(..) => true,
        }
    }
}

/// The database a `/regex/` names literally: `^?name\.` then no alternation outside a group
/// (`ordersDB\.(a|b)` names `ordersDB`; `a\.x|b\.y` names none). Lets a regex rule use a
/// database-level stream and the same-deployment check treat it as a named database.
fn regex_database(re: &str) -> Option<String> {
    let re = re.strip_prefix('^').unwrap_or(re);
    let end = re.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))?;
    let (db, rest) = re.split_at(end);
    let rest = rest.strip_prefix("\\.")?;
    if db.is_empty() {
        return None;
    }
    let (mut depth, mut escaped) = (0i32, false);
    for c in rest.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '(') => depth += 1,
            (false, ')') => depth -= 1,
            (false, '|') if depth == 0 => return None,
            _ => {}
        }
    }
    Some(db.to_string())
}

#[derive(Debug, Clone)]
struct Compiled {
    key: String,
    source: SourcePattern,
    target: Option<Template>,
    exclude: bool,
}

/// The compiled rules and the default target database.
#[derive(Debug, Clone)]
pub struct Namespaces {
    rules: Vec<Compiled>,
    /// `(source database, target database)`: where a rule without `target` sends that
    /// database; every other database `db` goes to `{db}_backup`.
    default_target: (String, String),
}

impl Namespaces {
    /// Compiles `[[namespaces]]`; `source_db` / `target_db` give the default target
    /// (`source.database` goes to `target.database`).
    pub fn compile(
        rules: &[NamespaceRule],
        source_db: &str,
        target_db: &str,
    ) -> Result<Self, RuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            let err = |field: &str, message: String| RuleError {
                key: format!("namespaces[{i}].{field}"),
                message,
            };
            let source = SourcePattern::parse(&rule.source).map_err(|m| err("source", m))?;
            let target = match (&rule.target, rule.exclude) {
                (Some(_), true) => {
                    return Err(err(
                        "target",
                        "an excluded namespace goes nowhere: remove target or exclude".into(),
                    ))
                }
                (Some(t), false) => Some(Template::parse(t).map_err(|m| err("target", m))?),
                (None, _) => None,
            };
            if let Some(t) = &target {
                if source.varies_db() && !t.uses_db() || source.varies_coll() && !t.uses_coll() {
                    return Err(err(
                        "target",
                        format!(
                            "{:?} sends every name {:?} matches to the same place: use {{db}} / \
                             {{coll}} for the parts the pattern leaves open",
                            rule.target.as_deref().unwrap_or(""),
                            rule.source
                        ),
                    ));
                }
            }
            compiled.push(Compiled {
                key: format!("namespaces[{i}]"),
                source,
                target,
                exclude: rule.exclude,
            });
        }
        let out = Self {
            rules: compiled,
            default_target: (source_db.to_string(), target_db.to_string()),
        };
        out.check_literal_targets()?;
        Ok(out)
    }

    /// The `source.database` / `source.collections` shorthand: those collections (all when
    /// absent) of `source_db` into `target_db`, same names.
    pub fn shorthand(source_db: &str, collections: Option<&[String]>, target_db: &str) -> Self {
        let rule = |i: usize, coll: NamePattern| Compiled {
            key: format!("source.collections[{i}]"),
            source: SourcePattern::Split {
                db: NamePattern::exact(source_db),
                coll,
            },
            target: None,
            exclude: false,
        };
        let rules = match collections {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, c)| rule(i, NamePattern::exact(c)))
                .collect(),
            None => vec![rule(0, NamePattern::glob("*").expect("a valid glob"))],
        };
        Self {
            rules,
            default_target: (source_db.to_string(), target_db.to_string()),
        }
    }

    /// Where `ns` goes on the target; `None` when it is not replicated (no rule, an excluding
    /// rule, or a system collection or database).
    pub fn map(&self, ns: &Namespace) -> Option<Namespace> {
        if SYSTEM_DATABASES.contains(&ns.db.as_str()) || ns.coll.starts_with("system.") {
            return None;
        }
        let rule = self.rules.iter().find(|r| r.source.matches(ns))?;
        if rule.exclude {
            return None;
        }
        let (db, coll) = match &rule.target {
            Some(t) => t.apply(&ns.db, &ns.coll),
            None => (self.default_database(&ns.db), ns.coll.clone()),
        };
        Some(Namespace { db, coll })
    }

    fn default_database(&self, db: &str) -> String {
        match db == self.default_target.0 {
            true => self.default_target.1.clone(),
            false => format!("{db}_backup"),
        }
    }

    /// The one source database every selecting rule names, when there is one: a
    /// database-level change stream then suffices; otherwise the cluster-level one is opened.
    pub fn single_database(&self) -> Option<&str> {
        let mut dbs = self
            .rules
            .iter()
            .filter(|r| !r.exclude)
            .map(|r| r.source.literal_db());
        let first = dbs.next()??;
        dbs.all(|d| d == Some(first)).then_some(first)
    }

    /// True when some selecting rule names its own target: the backup's names then differ from
    /// the source's somewhere, so a source `dropDatabase` cannot become one on the target.
    pub fn has_targets(&self) -> bool {
        self.rules.iter().any(|r| !r.exclude && r.target.is_some())
    }

    /// The collection names the selecting rules list, when every one is a plain name in one
    /// database: a database-level stream can then `$match` on them server-side.
    pub fn literal_collections(&self) -> Option<Vec<String>> {
        self.rules
            .iter()
            .filter(|r| !r.exclude)
            .map(|r| r.source.literal().map(|ns| ns.coll))
            .collect()
    }

    /// The source database whose names go to the configured target database by default.
    pub fn default_source_database(&self) -> &str {
        &self.default_target.0
    }

    /// The target database of a source database `db` for names no rule retargets.
    pub fn default_target_database(&self, db: &str) -> String {
        self.default_database(db)
    }

    /// The server-side `$match` of a cluster-level stream: a superset of what [`Self::map`]
    /// selects (the exact choice, excludes included, is made here on each event), by
    /// database, and including renames whose destination (`to`) is selected.
    pub fn stream_filter(&self) -> Document {
        let selecting: Vec<&Compiled> = self.rules.iter().filter(|r| !r.exclude).collect();
        let dbs: Option<Vec<&str>> = selecting.iter().map(|r| r.source.literal_db()).collect();
        let on_db = match dbs {
            Some(mut dbs) => {
                dbs.sort_unstable();
                dbs.dedup();
                Bson::from(doc! {"$in": dbs})
            }
            None => Bson::from(doc! {"$nin": SYSTEM_DATABASES.to_vec()}),
        };
        doc! {"$or": [{"ns.db": on_db.clone()}, {"to.db": on_db}]}
    }

    /// What a source rename from `from` to `to` means for the backup.
    pub fn rename_effect(&self, from: &Namespace, to: &Namespace) -> RenameEffect {
        match (self.map(from), self.map(to)) {
            (Some(from), Some(to)) => RenameEffect::Within { from, to },
            (None, Some(to)) => RenameEffect::IntoSelected { to },
            (Some(from), None) => RenameEffect::OutOfSelected { from },
            (None, None) => RenameEffect::Outside,
        }
    }

    /// Fails when two of the `names` the source has map to one target: checked on every
    /// listing and for each collection that appears while tailing. (A target that is itself a
    /// replicated name only matters on one deployment: [`Self::same_deployment_problem`].)
    pub fn check_distinct<'a>(
        &self,
        names: impl IntoIterator<Item = &'a Namespace>,
    ) -> Result<(), RuleError> {
        let mut seen: BTreeMap<Namespace, &Namespace> = BTreeMap::new();
        for ns in names {
            let Some(target) = self.map(ns) else {
                continue;
            };
            if let Some(other) = seen.insert(target.clone(), ns) {
                return Err(self.error_for(
                    ns,
                    format!("{other} and {ns} would both go to {target}: give one its own target"),
                ));
            }
        }
        Ok(())
    }

    /// When the source deployment is also the target: a rule whose source database is a
    /// pattern could select the backup's own databases, and a named database some rule writes
    /// into would feed itself. The first such rule, if any.
    pub fn same_deployment_problem(&self) -> Option<RuleError> {
        let selecting: Vec<&Compiled> = self.rules.iter().filter(|r| !r.exclude).collect();
        let mut sources = Vec::new();
        for r in &selecting {
            let Some(db) = r.source.literal_db() else {
                return Some(RuleError {
                    key: format!("{}.source", r.key),
                    message: "the source is also the target deployment: a database pattern \
                              would select the backup's own databases; name the databases"
                        .into(),
                });
            };
            sources.push(db);
        }
        for r in &selecting {
            let db = r.source.literal_db().unwrap_or_default();
            let target_db = match &r.target {
                None => Some(self.default_database(db)),
                Some(t) => t.database_for(db),
            };
            if let Some(t) = target_db.filter(|t| sources.contains(&t.as_str())) {
                return Some(RuleError {
                    key: format!("{}.target", r.key),
                    message: format!(
                        "writes into {t}, which is also replicated on this same deployment: \
                         the backup would feed itself"
                    ),
                });
            }
        }
        None
    }

    /// Two rules on one literal name each, with literal targets, that collide: caught before
    /// anything is listed.
    fn check_literal_targets(&self) -> Result<(), RuleError> {
        let literal: Vec<Namespace> = self
            .rules
            .iter()
            .filter_map(|r| r.source.literal())
            .collect();
        self.check_distinct(literal.iter())
    }

    fn error_for(&self, ns: &Namespace, message: String) -> RuleError {
        let key = self
            .rules
            .iter()
            .find(|r| r.source.matches(ns))
            .map(|r| r.key.clone())
            .unwrap_or_else(|| "namespaces".into());
        RuleError { key, message }
    }
}
