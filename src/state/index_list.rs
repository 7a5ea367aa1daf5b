//! What every per-index list kept in the checkpoint (pending indexes, TTL values) does when the
//! source drops or renames: one place, so the lists cannot drift apart. Pure: no I/O.

use crate::source::translate::DdlOp;

/// An entry of a per-index list: the collection it belongs to and the index's name.
pub trait IndexEntry {
    fn collection(&self) -> &str;
    fn set_collection(&mut self, to: &str);
    fn index_name(&self) -> &str;
}

/// Applies the drops and renames of `op` to `list`; `false` when `op` is none of them (the
/// caller handles the ops only its list cares about).
pub fn follow_drops_and_renames<T: IndexEntry>(list: &mut Vec<T>, op: &DdlOp) -> bool {
    match op {
        // A renamed-in collection is copied again: its copy lists its indexes anew.
        DdlOp::Drop { coll } | DdlOp::RenameIn { coll } => list.retain(|e| e.collection() != coll),
        DdlOp::DropDatabase => list.clear(),
        DdlOp::DropIndexes { coll, names } => {
            list.retain(|e| !(e.collection() == coll && names.iter().any(|n| n == e.index_name())))
        }
        // The replaced target's entries are gone with it; the renamed one's move.
        DdlOp::Rename { from, to } => {
            list.retain(|e| e.collection() != to);
            for e in list.iter_mut().filter(|e| e.collection() == from) {
                e.set_collection(to);
            }
        }
        DdlOp::Create { .. } | DdlOp::CreateIndexes { .. } | DdlOp::Modify { .. } => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct E(String, String);
    impl IndexEntry for E {
        fn collection(&self) -> &str {
            &self.0
        }
        fn set_collection(&mut self, to: &str) {
            self.0 = to.to_string();
        }
        fn index_name(&self) -> &str {
            &self.1
        }
    }
    fn e(c: &str, n: &str) -> E {
        E(c.into(), n.into())
    }

    #[test]
    fn a_rename_moves_entries_and_forgets_the_replaced_targets() {
        let mut list = vec![e("a", "x_1"), e("b", "y_1")];
        let op = DdlOp::Rename {
            from: "a".into(),
            to: "b".into(),
        };
        assert!(follow_drops_and_renames(&mut list, &op));
        assert_eq!(list, vec![e("b", "x_1")]);
    }

    #[test]
    fn dropped_indexes_and_collections_are_forgotten_others_left_to_the_caller() {
        let mut list = vec![e("a", "x_1"), e("a", "z_1"), e("b", "y_1")];
        let op = DdlOp::DropIndexes {
            coll: "a".into(),
            names: vec!["x_1".into()],
        };
        assert!(follow_drops_and_renames(&mut list, &op));
        assert_eq!(list, vec![e("a", "z_1"), e("b", "y_1")]);
        assert!(follow_drops_and_renames(
            &mut list,
            &DdlOp::Drop { coll: "b".into() }
        ));
        assert_eq!(list, vec![e("a", "z_1")]);
        let create = DdlOp::Create {
            coll: "c".into(),
            options: Default::default(),
        };
        assert!(!follow_drops_and_renames(&mut list, &create));
        assert!(follow_drops_and_renames(&mut list, &DdlOp::DropDatabase));
        assert!(list.is_empty());
    }
}
