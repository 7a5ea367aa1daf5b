//! A rule's `target`: `"db.collection"` with `{db}` and `{coll}` standing for the source's
//! database and collection names.

/// A parsed target template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    db: String,
    coll: String,
}

/// The placeholders a template may use.
const PLACEHOLDERS: [&str; 2] = ["{db}", "{coll}"];

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (db, coll) = text
            .split_once('.')
            .ok_or_else(|| format!("{text:?} is not \"database.collection\""))?;
        if db.is_empty() || coll.is_empty() {
            return Err(format!("{text:?} has an empty database or collection name"));
        }
        for part in [db, coll] {
            let mut rest = part.to_string();
            for p in PLACEHOLDERS {
                rest = rest.replace(p, "");
            }
            if rest.contains(['{', '}']) {
                return Err(format!(
                    "{text:?} has an unknown placeholder (only {{db}} and {{coll}} exist)"
                ));
            }
        }
        if db
            .replace("{db}", "")
            .contains(['/', '\\', '.', ' ', '"', '$'])
        {
            return Err(format!(
                "{text:?}: a database name cannot hold / \\ . space \" $"
            ));
        }
        Ok(Self {
            db: db.to_string(),
            coll: coll.to_string(),
        })
    }

    /// A template putting collections into `db` under their own names.
    pub fn into_database(db: &str) -> Self {
        Self {
            db: db.to_string(),
            coll: "{coll}".into(),
        }
    }

    /// The target of `db.coll`.
    pub fn apply(&self, db: &str, coll: &str) -> (String, String) {
        let fill = |t: &str| t.replace("{db}", db).replace("{coll}", coll);
        (fill(&self.db), fill(&self.coll))
    }

    /// The target database for names of source database `db`, when it does not depend on
    /// the collection's name.
    pub fn database_for(&self, db: &str) -> Option<String> {
        (!self.db.contains("{coll}")).then(|| self.db.replace("{db}", db))
    }

    /// Whether the target names depend on the source's database / collection name.
    pub fn uses_db(&self) -> bool {
        self.db.contains("{db}") || self.coll.contains("{db}")
    }
    pub fn uses_coll(&self) -> bool {
        self.db.contains("{coll}") || self.coll.contains("{coll}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let t = Template::parse("{db}_backup.{coll}_v2").unwrap();
        assert_eq!(
            t.apply("ordersDB", "orders"),
            ("ordersDB_backup".into(), "orders_v2".into())
        );
        assert!(t.uses_db() && t.uses_coll());
        let fixed = Template::parse("archive.orders_archive").unwrap();
        assert!(!fixed.uses_db() && !fixed.uses_coll());
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(Template::parse("nodot")
            .unwrap_err()
            .contains("database.collection"));
        assert!(Template::parse(".c").unwrap_err().contains("empty"));
        assert!(Template::parse("{database}.c")
            .unwrap_err()
            .contains("placeholder"));
        assert!(Template::parse("a b.c")
            .unwrap_err()
            .contains("database name"));
    }
}
