//! The identity of a document version: a hash of its raw BSON bytes. Both sides store a
//! replacement byte for byte (field order included), so equal hashes mean equal versions; a
//! deleted document has no version (`None`).

use bson::{Bson, RawDocument};
use sha2::{Digest, Sha256};

/// A version's hash, hex (what `sync_state` stores).
pub type Version = String;

/// The hash of `doc`'s raw bytes.
pub fn version_of(doc: &RawDocument) -> Version {
    hex::encode(Sha256::digest(doc.as_bytes()))
}

/// The hash of an optional document (`None`: deleted).
pub fn version_opt(doc: Option<&RawDocument>) -> Option<Version> {
    doc.map(version_of)
}

/// A document `_id` as a map key: its canonical Extended JSON (same value, same string).
pub fn id_key(id: &Bson) -> String {
    id.clone().into_canonical_extjson().to_string()
}

/// What the agreed state says of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreed {
    /// Never agreed on (first sync, or a document neither side had).
    Unknown,
    /// Both sides last held this version (`None`: both had it deleted).
    At(Option<Version>),
}

/// What to do with one side's current version `source` against the other side's `target`
/// and the agreed state (three-way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The source version is the agreed one: nothing changed here (an echo of our write).
    Echo,
    /// Both already hold the same version: only the agreed state moves.
    Same,
    /// Only the source changed since the agreed version: write it to the target.
    Apply,
    /// Both changed since they last agreed (or never agreed and differ): a conflict.
    Conflict,
}

/// The three-way decision. Pure.
pub fn decide(source: Option<&Version>, target: Option<&Version>, agreed: &Agreed) -> Verdict {
    if let Agreed::At(a) = agreed {
        if a.as_ref() == source {
            return Verdict::Echo;
        }
    }
    if source == target {
        return Verdict::Same;
    }
    match agreed {
        Agreed::At(a) if a.as_ref() == target => Verdict::Apply,
        Agreed::Unknown if target.is_none() => Verdict::Apply,
        _ => Verdict::Conflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Version {
        s.to_string()
    }

    #[test]
    fn the_three_way_cases() {
        let (a, b, c) = (v("a"), v("b"), v("c"));
        let at = |x: Option<&Version>| Agreed::At(x.cloned());
        assert_eq!(decide(Some(&a), Some(&b), &at(Some(&a))), Verdict::Echo);
        assert_eq!(decide(None, None, &at(None)), Verdict::Echo);
        assert_eq!(decide(Some(&b), Some(&b), &at(Some(&a))), Verdict::Same);
        assert_eq!(decide(Some(&b), Some(&a), &at(Some(&a))), Verdict::Apply);
        assert_eq!(decide(None, Some(&a), &at(Some(&a))), Verdict::Apply);
        assert_eq!(decide(Some(&b), None, &at(None)), Verdict::Apply);
        assert_eq!(decide(Some(&b), Some(&c), &at(Some(&a))), Verdict::Conflict);
        assert_eq!(decide(None, Some(&c), &at(Some(&a))), Verdict::Conflict);
        assert_eq!(decide(Some(&b), None, &Agreed::Unknown), Verdict::Apply);
        assert_eq!(
            decide(Some(&b), Some(&c), &Agreed::Unknown),
            Verdict::Conflict
        );
    }

    proptest! {
        /// Applying never overwrites a target that moved away from the agreed version, and a
        /// source still at the agreed version is never written (no echo).
        #[test]
        fn apply_only_over_the_agreed_version(s in proptest::option::of(0u8..4), t in proptest::option::of(0u8..4), a in proptest::option::of(proptest::option::of(0u8..4))) {
            let s = s.map(|x| x.to_string());
            let t = t.map(|x| x.to_string());
            let agreed = match a { None => Agreed::Unknown, Some(x) => Agreed::At(x.map(|x| x.to_string())) };
            let verdict = decide(s.as_ref(), t.as_ref(), &agreed);
            if verdict == Verdict::Apply {
                match &agreed {
                    Agreed::At(x) => prop_assert_eq!(x, &t),
                    Agreed::Unknown => prop_assert!(t.is_none()),
                }
            }
            if agreed == Agreed::At(s.clone()) {
                prop_assert_eq!(verdict, Verdict::Echo);
            }
        }
    }

    #[test]
    fn the_hash_follows_the_bytes() {
        let a = bson::rawdoc! { "_id": 1, "x": 1 };
        let b = bson::rawdoc! { "_id": 1, "x": 2 };
        assert_eq!(version_of(&a), version_of(&a.clone()));
        assert_ne!(version_of(&a), version_of(&b));
    }
}
