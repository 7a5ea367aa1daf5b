//! A change event's delta applied to a document in memory, as the server applies the bulk
//! statements the delta becomes (truncations, then `$set`, then `$unset`): the version after one
//! change is the `before` of the next change of the same document in the same batch. Pure.

use bson::{Bson, Document, RawDocument};

/// `doc` after `truncate`, `set` (dotted paths, numeric parts index arrays) and `unset`.
pub fn apply(doc: &mut Document, set: &RawDocument, unset: &[String], truncate: &[(String, i32)]) {
    for (path, size) in truncate {
        if let Some(Bson::Array(a)) = slot(doc, path, false) {
            a.truncate(usize::try_from(*size).unwrap_or(0));
        }
    }
    for (path, value) in set.iter().flatten() {
        let Ok(value) = Bson::try_from(value) else {
            continue;
        };
        if let Some(place) = slot(doc, path, true) {
            *place = value;
        }
    }
    for path in unset {
        remove(doc, path);
    }
}

/// The value at `path`, created (as `Null`, with missing documents on the way) when `create`.
fn slot<'a>(doc: &'a mut Document, path: &str, create: bool) -> Option<&'a mut Bson> {
    let (head, rest) = split(path);
    if create && !doc.contains_key(head) {
        let value = if rest.is_some() {
            Bson::Document(Document::new())
        } else {
            Bson::Null
        };
        doc.insert(head, value);
    }
    let value = doc.get_mut(head)?;
    match rest {
        None => Some(value),
        Some(rest) => descend(value, rest, create),
    }
}

fn descend<'a>(value: &'a mut Bson, path: &str, create: bool) -> Option<&'a mut Bson> {
    match value {
        Bson::Document(d) => slot(d, path, create),
        Bson::Array(a) => {
            let (head, rest) = split(path);
            let i: usize = head.parse().ok()?;
            if create && a.len() <= i {
                // $set past the end pads with nulls, as the server does.
                a.resize(i + 1, Bson::Null);
                if rest.is_some() {
                    a[i] = Bson::Document(Document::new());
                }
            }
            let item = a.get_mut(i)?;
            match rest {
                None => Some(item),
                Some(rest) => descend(item, rest, create),
            }
        }
        _ => None,
    }
}

fn remove(doc: &mut Document, path: &str) {
    match path.rsplit_once('.') {
        None => {
            doc.remove(path);
        }
        Some((parent, last)) => match slot(doc, parent, false) {
            Some(Bson::Document(d)) => {
                d.remove(last);
            }
            // $unset of an array element sets it to null.
            Some(Bson::Array(a)) => {
                if let Some(item) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    *item = Bson::Null;
                }
            }
            _ => {}
        },
    }
}

fn split(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    #[test]
    fn set_unset_and_truncate_follow_the_server() {
        let mut d = doc! {"_id": 1, "a": {"b": 1}, "arr": [1, 2, 3], "gone": true};
        let set = rawdoc! {"a.c": 2, "arr.1": 9, "n.m": "x", "top": 5};
        apply(
            &mut d,
            &set,
            &["gone".into(), "a.b".into()],
            &[("arr".into(), 2)],
        );
        assert_eq!(
            d,
            doc! {"_id": 1, "a": {"c": 2}, "arr": [1, 9], "n": {"m": "x"}, "top": 5}
        );
    }

    #[test]
    fn setting_past_an_arrays_end_pads_with_null() {
        let mut d = doc! {"_id": 1, "arr": [1]};
        apply(&mut d, &rawdoc! {"arr.2": 3}, &["arr.0".into()], &[]);
        assert_eq!(d, doc! {"_id": 1, "arr": [Bson::Null, Bson::Null, 3]});
    }
}
