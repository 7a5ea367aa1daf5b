//! A copy over a backup that already holds a collection (a resync, or a copy into a backup an
//! operator prepared) makes its options the source's where the server allows it: validation
//! options and pre-images by `collMod`, a view's definition by re-creating the view (a view
//! holds no data). What no command changes in place (`capped`, `size`, `collation`,
//! `clusteredIndex`...) is named with what to do; `verify` keeps reporting it.

use crate::bulk::listing::{differing_options, Kind, Listed};
use bson::{doc, Bson, Document};

/// The value a `collMod` sets to mean "not set".
type Unset = fn() -> Bson;

/// The collection options `collMod` changes, with the value that stands for "not set".
const CHANGEABLE: [(&str, Unset); 4] = [
    ("validator", || Bson::Document(Document::new())),
    ("validationLevel", || Bson::String("strict".into())),
    ("validationAction", || Bson::String("error".into())),
    ("changeStreamPreAndPostImages", || {
        Bson::Document(doc! {"enabled": false})
    }),
];

/// What it takes to make an existing target namespace look like the source's.
#[derive(Debug, Default, PartialEq)]
pub struct Alignment {
    /// The options a `collMod` sets (as [`crate::source::translate::DdlOp::Modify`] carries
    /// them), when a changeable one differs.
    pub coll_mod: Option<Document>,
    /// The target view's definition differs: drop it and create it as the source has it.
    pub recreate_view: bool,
    /// Options (or the type) that differ and no command changes in place, by name only.
    pub fixed: Vec<String>,
}

/// How to align `target` with `source` (same name), pure.
pub fn alignment(source: &Listed, target: &Listed) -> Alignment {
    let mut out = Alignment::default();
    if source.kind != target.kind {
        out.fixed.push("type".into());
        return out;
    }
    let differing = differing_options(&source.options, &target.options);
    if source.kind == Kind::View {
        out.recreate_view = !differing.is_empty();
        return out;
    }
    let mut coll_mod = Document::new();
    for (k, _) in differing {
        match CHANGEABLE.iter().find(|(name, _)| *name == k) {
            Some((name, unset)) => {
                let value = source.options.get(*name).cloned().unwrap_or_else(unset);
                coll_mod.insert(*name, value);
            }
            None => out.fixed.push(k.to_string()),
        }
    }
    out.coll_mod = (!coll_mod.is_empty()).then_some(coll_mod);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(kind: Kind, options: Document) -> Listed {
        Listed {
            name: "c".into(),
            kind,
            uuid: None,
            options,
        }
    }

    #[test]
    fn changeable_options_become_one_coll_mod_and_unset_ones_their_defaults() {
        let source = listed(
            Kind::Collection,
            doc! {"validator": {"a": 1}, "validationLevel": "moderate"},
        );
        let target = listed(
            Kind::Collection,
            doc! {"validator": {"b": 1}, "validationAction": "warn", "capped": true, "size": 4096},
        );
        let a = alignment(&source, &target);
        assert_eq!(
            a.coll_mod,
            Some(
                doc! {"validationAction": "error", "validationLevel": "moderate", "validator": {"a": 1}}
            )
        );
        assert_eq!(a.fixed, vec!["capped".to_string(), "size".to_string()]);
        assert!(!a.recreate_view);
    }

    #[test]
    fn equal_options_need_nothing_and_views_are_recreated_when_they_differ() {
        let same = listed(Kind::Collection, doc! {"capped": true, "size": 4096});
        let same_f64 = listed(Kind::Collection, doc! {"capped": true, "size": 4096.0});
        assert_eq!(alignment(&same, &same_f64), Alignment::default());
        let v1 = listed(Kind::View, doc! {"viewOn": "a", "pipeline": []});
        let v2 = listed(
            Kind::View,
            doc! {"viewOn": "a", "pipeline": [{"$match": {}}]},
        );
        assert!(alignment(&v1, &v2).recreate_view);
        assert!(!alignment(&v1, &v1).recreate_view);
        let kinds = alignment(&v1, &same);
        assert_eq!(kinds.fixed, vec!["type".to_string()]);
    }
}
