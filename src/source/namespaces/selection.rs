//! The source selection as configured, kept in the checkpoint. At the next start a collection
//! the configuration selects now but did not then (the rules were widened) has no copy on the
//! backup, and its change events alone would leave it partial: [`crate::bulk::widened`] copies
//! it before the tail resumes.

use super::{NamespaceRule, Namespaces, RuleError, Scope};
use crate::config::Config;
use serde::{Deserialize, Serialize};

/// `source.database`, `source.collections` and `[[namespaces]]`, as a run had them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Selection {
    pub database: String,
    #[serde(default)]
    pub collections: Option<Vec<String>>,
    #[serde(default)]
    pub namespaces: Vec<NamespaceRule>,
}

impl Selection {
    pub fn of(cfg: &Config) -> Self {
        Selection {
            database: cfg.source.database.clone(),
            collections: cfg.source.collections.clone(),
            namespaces: cfg.namespaces.clone(),
        }
    }

    /// The scope this selection makes, writing into `target_db` by default: the rules when
    /// there are any, else the shorthand.
    pub fn scope(&self, target_db: &str) -> Result<Scope, RuleError> {
        if self.namespaces.is_empty() {
            return Ok(Scope::shorthand(
                &self.database,
                self.collections.as_deref(),
                target_db,
            ));
        }
        Namespaces::compile(&self.namespaces, &self.database, target_db).map(Scope::new)
    }
}

/// The keys of `now` (keys `now` selects) whose source namespace `before` did not select:
/// only whether a namespace was selected is compared, so a key that changed form (one database
/// then several) or target is not copied again.
pub fn newly_selected<'a>(
    before: &Scope,
    now: &Scope,
    keys: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    keys.into_iter()
        .filter(|k| before.key(&now.source_of(k)).is_none())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shorthand(db: &str, colls: Option<&[&str]>) -> Selection {
        Selection {
            database: db.into(),
            collections: colls.map(|c| c.iter().map(|s| s.to_string()).collect()),
            namespaces: vec![],
        }
    }

    fn rule(source: &str) -> NamespaceRule {
        NamespaceRule {
            source: source.into(),
            target: None,
            exclude: false,
        }
    }

    #[test]
    fn a_collection_added_to_the_list_is_new_and_the_listed_ones_are_not() {
        let before = shorthand("shop", Some(&["orders"])).scope("bk").unwrap();
        let now = shorthand("shop", Some(&["orders", "users"]))
            .scope("bk")
            .unwrap();
        assert_eq!(
            newly_selected(&before, &now, ["orders", "users"]),
            vec!["users"]
        );
    }

    #[test]
    fn narrowing_or_the_same_selection_copies_nothing() {
        let all = shorthand("shop", None).scope("bk").unwrap();
        let one = shorthand("shop", Some(&["orders"])).scope("bk").unwrap();
        assert!(newly_selected(&all, &one, ["orders"]).is_empty());
        assert!(newly_selected(&all, &all, ["orders", "users"]).is_empty());
    }

    #[test]
    fn a_second_database_is_new_and_the_first_keeps_its_collections_under_new_keys() {
        let before = shorthand("shop", None).scope("bk").unwrap();
        let mut sel = shorthand("shop", None);
        sel.namespaces = vec![rule("shop.*"), rule("crm.*")];
        let now = sel.scope("bk").unwrap();
        assert_eq!(
            newly_selected(&before, &now, ["shop.orders", "crm.leads"]),
            vec!["crm.leads"]
        );
    }

    #[test]
    fn an_excluded_collection_let_in_is_new() {
        let mut sel = shorthand("shop", None);
        sel.namespaces = vec![
            NamespaceRule {
                source: "shop.tmp*".into(),
                target: None,
                exclude: true,
            },
            rule("shop.*"),
        ];
        let before = sel.scope("bk").unwrap();
        let now = shorthand("shop", None).scope("bk").unwrap();
        assert_eq!(
            newly_selected(&before, &now, ["orders", "tmp1"]),
            vec!["tmp1"]
        );
    }
}
