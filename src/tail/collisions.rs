//! Two source names meeting on one target while tailing: a collection created (or renamed)
//! after the start listing whose rule sends it where another replicated collection already
//! goes. Found before its first event is routed, so its documents never mix into the other's
//! image; the run stops with a configuration error naming the rule. Only rules that can
//! collide at all (several databases, or a `target` template) are tracked.

use crate::error::Result;
use crate::source::namespaces::{Namespace, Scope};
use crate::source::translate::{DdlOp, Translated};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Collisions {
    scope: Arc<Scope>,
    tracked: bool,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    target_of: HashMap<String, Namespace>,
    key_of: HashMap<Namespace, String>,
}

impl Known {
    fn forget(&mut self, key: &str) {
        if let Some(t) = self.target_of.remove(key) {
            self.key_of.remove(&t);
        }
    }
}

impl Collisions {
    /// Tracking from the source's listing now (which itself refuses a collision), when the
    /// rules can collide at all.
    pub async fn start(
        source: &crate::source::Endpoint,
        reporter: &crate::ops::Reporter,
    ) -> Result<Self> {
        let scope = source.scope().clone();
        if !Self::can_collide(&scope) {
            return Ok(Self::new(scope, []));
        }
        let listed = reporter
            .retry("listing source collections", || {
                crate::bulk::listing::list(source, crate::error::Origin::Source)
            })
            .await?;
        Ok(Self::new(scope, listed.into_iter().map(|l| l.name)))
    }

    fn can_collide(scope: &Scope) -> bool {
        scope.single_database().is_none() || scope.rules().has_targets()
    }

    /// Tracking starts from the keys the source lists now (already checked distinct).
    pub fn new(scope: Arc<Scope>, listed: impl IntoIterator<Item = String>) -> Self {
        let tracked = Self::can_collide(&scope);
        let mut known = Known::default();
        if tracked {
            for key in listed {
                let t = scope.target_of(&key);
                known.key_of.insert(t.clone(), key.clone());
                known.target_of.insert(key, t);
            }
        }
        Self {
            scope,
            tracked,
            known: Mutex::new(known),
        }
    }

    /// Checks the collection `translated` writes to; follows drops and renames.
    pub fn check(&self, translated: &Translated) -> Result<()> {
        if !self.tracked {
            return Ok(());
        }
        match translated {
            Translated::Write(op) => self.meet(&op.coll),
            Translated::Ddl(DdlOp::Drop { coll }) => {
                self.known.lock().forget(coll);
                Ok(())
            }
            Translated::Ddl(DdlOp::Rename { from, to }) => {
                self.known.lock().forget(from);
                self.meet(to)
            }
            Translated::Ddl(op) => op.collections().into_iter().try_for_each(|c| self.meet(c)),
            _ => Ok(()),
        }
    }

    fn meet(&self, key: &str) -> Result<()> {
        let mut known = self.known.lock();
        if known.target_of.contains_key(key) {
            return Ok(());
        }
        let target = self.scope.target_of(key);
        if let Some(other) = known.key_of.get(&target) {
            let names = [self.scope.source_of(other), self.scope.source_of(key)];
            let e = self
                .scope
                .check_distinct(names.iter())
                .expect_err("two sources with one target");
            return Err(e.into());
        }
        known.key_of.insert(target.clone(), key.to_string());
        known.target_of.insert(key.to_string(), target);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::namespaces::{NamespaceRule, Namespaces};
    use crate::source::translate::{WriteKind, WriteOp};

    fn scope() -> Arc<Scope> {
        let rule = |s: &str| NamespaceRule {
            source: s.into(),
            target: Some("bk.{coll}".into()),
            exclude: false,
        };
        let rules = [rule("a.o*"), rule("b.o*")];
        Arc::new(Scope::new(Namespaces::compile(&rules, "a", "bk").unwrap()))
    }

    fn write(key: &str) -> Translated {
        Translated::Write(WriteOp {
            coll: key.into(),
            key: bson::doc! {"_id": 1}.into(),
            kind: WriteKind::Delete,
        })
    }

    #[test]
    fn a_second_source_on_a_known_target_is_refused_naming_its_rule() {
        let c = Collisions::new(scope(), ["a.orders".to_string()]);
        assert!(c.check(&write("a.orders")).is_ok());
        assert!(c.check(&write("b.others")).is_ok());
        let e = c.check(&write("b.orders")).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        assert_eq!(e.context, "namespaces[1]");
    }

    #[test]
    fn a_dropped_or_renamed_away_name_frees_its_target() {
        let c = Collisions::new(scope(), ["a.orders".to_string()]);
        let drop = Translated::Ddl(DdlOp::Drop {
            coll: "a.orders".into(),
        });
        assert!(c.check(&drop).is_ok());
        assert!(c.check(&write("b.orders")).is_ok());
        let rename = Translated::Ddl(DdlOp::Rename {
            from: "b.orders".into(),
            to: "b.orders2".into(),
        });
        assert!(c.check(&rename).is_ok());
        assert!(c.check(&write("a.orders")).is_ok());
    }

    #[test]
    fn one_database_under_its_own_names_is_not_tracked() {
        let c = Collisions::new(Arc::new(Scope::shorthand("a", None, "bk")), []);
        assert!(c.check(&write("orders")).is_ok());
        assert!(c.known.lock().target_of.is_empty());
    }
}
