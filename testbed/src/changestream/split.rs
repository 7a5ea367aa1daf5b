//! `$changeStreamSplitLargeEvent`: an event too large to send is cut at top-level field
//! boundaries into fragments `{_id: <fragment token>, splitEvent: {fragment, of}, ...fields}`,
//! as mongod 7.0 does: fields are placed smallest first (ties by name) and greedily, so the
//! first fragment carries as many fields (the event's context) as fit. Sub-documents are never
//! cut: a single field too large for a fragment fails the stream (7182500). Pure.

use crate::cursor::bson_size;
use crate::error::{CmdError, CmdResult};
use bson::{doc, Bson, Document};

/// mongod's `BSONObjMaxInternalSize` (16 MiB + 16 KiB): the largest object it serializes. An
/// event above it fails the stream with BSONObjectTooLarge (10334) when it is not split.
pub(crate) const MAX_INTERNAL_SIZE: usize = 16 * 1024 * 1024 + 16 * 1024;
/// mongod's `kBSONObjMaxChangeEventSize`: events above it are split; fragments stay below it
/// less the size of a resume token (room for the batch's `postBatchResumeToken`).
pub(crate) const MAX_EVENT_SIZE: usize = MAX_INTERNAL_SIZE - 8 * 1024;

/// BSONObjectTooLarge for an event of `size` bytes whose `_id` is `token`, worded as mongod.
pub(crate) fn too_large(size: usize, token: Option<&Bson>) -> CmdError {
    let first = match token {
        Some(Bson::Document(t)) => match t.get_str("_data") {
            Ok(data) => format!("_id: {{ _data: \"{data}\" }}"),
            Err(_) => format!("_id: {t}"),
        },
        Some(other) => format!("_id: {other}"),
        None => "EOO".to_string(),
    };
    CmdError::new(
        crate::error::code::BSON_OBJECT_TOO_LARGE,
        "BSONObjectTooLarge",
        format!(
            "BSONObj size: {size} (0x{size:X}) is invalid. Size must be between 0 and {MAX_INTERNAL_SIZE}(16MB) First element: {first}"
        ),
    )
}

/// Splits `event` (without its `_id`, which each fragment replaces) into fragments of at most
/// `max_fragment` bytes. `token(n)` is the `_id` of fragment `n` (0-based).
pub(crate) fn split(
    mut event: Document,
    max_fragment: usize,
    token: impl Fn(u16) -> Document,
) -> CmdResult<Vec<Document>> {
    event.remove("_id");
    // (size of the field's element, name, value), smallest first as mongod orders them.
    let mut fields: Vec<(usize, String, Bson)> = event
        .into_iter()
        .map(|(k, v)| {
            let mut one = Document::new();
            one.insert(k, v);
            let size = bson_size(&one) - 5; // less the length prefix and terminator
            let (k, v) = one.into_iter().next().expect("one field");
            (size, k, v)
        })
        .collect();
    if fields.is_empty() {
        return Err(CmdError::new(
            7182502,
            "Location7182502",
            "Cannot split an empty event or an event containing solely '_id' field",
        ));
    }
    fields.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut fragments = Vec::new();
    let mut fields = fields.into_iter().peekable();
    while fields.peek().is_some() {
        let n = u16::try_from(fragments.len()).expect("at most a few fragments");
        let mut fragment = doc! {
            "_id": token(n),
            "splitEvent": {"fragment": i32::from(n) + 1, "of": 0},
        };
        let mut size = bson_size(&fragment);
        // At least one field per fragment; then as many as fit.
        while let Some((field, _, _)) = fields.peek() {
            if fragment.len() > 2 && size + field > max_fragment {
                break;
            }
            let (field, k, v) = fields.next().expect("peeked");
            size += field;
            fragment.insert(k, v);
        }
        if size > max_fragment {
            return Err(CmdError::new(
                7182500,
                "Location7182500",
                format!("Splitting change event failed: fragment size {size} is greater than maximum allowed fragment size {max_fragment}"),
            ));
        }
        fragments.push(fragment);
    }
    let of = i32::try_from(fragments.len()).expect("few fragments");
    for f in &mut fragments {
        if let Ok(split) = f.get_document_mut("splitEvent") {
            split.insert("of", of);
        }
    }
    Ok(fragments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u16) -> Document {
        doc! {"_data": format!("82AA{n:04X}")}
    }

    fn event(sizes: &[(&str, usize)]) -> Document {
        let mut d = doc! {"_id": {"_data": "82AA"}, "operationType": "update"};
        for (k, n) in sizes {
            d.insert(*k, "x".repeat(*n));
        }
        d
    }

    /// The fields of `fragments` (without `_id` and `splitEvent`) back in one document.
    fn reassemble(fragments: &[Document]) -> Document {
        let mut whole = Document::new();
        for f in fragments {
            for (k, v) in f {
                if k != "_id" && k != "splitEvent" {
                    assert!(whole.insert(k, v.clone()).is_none(), "{k} twice");
                }
            }
        }
        whole
    }

    #[test]
    fn fragments_are_under_the_limit_and_reassemble_to_the_event() {
        let max = 1000;
        let e = event(&[("a", 600), ("b", 300), ("c", 900), ("d", 10)]);
        let fragments = split(e.clone(), max, token).unwrap();
        assert_eq!(fragments.len(), 3);
        for (i, f) in fragments.iter().enumerate() {
            assert!(bson_size(f) <= max, "fragment {i}: {}", bson_size(f));
            let keys: Vec<&str> = f.keys().take(2).map(String::as_str).collect();
            assert_eq!(keys, ["_id", "splitEvent"]);
            assert_eq!(
                f.get_document("splitEvent").unwrap(),
                &doc! {"fragment": i as i32 + 1, "of": 3}
            );
        }
        let mut original = e;
        original.remove("_id");
        let whole = reassemble(&fragments);
        assert_eq!(whole.len(), original.len());
        for (k, v) in &original {
            assert_eq!(whole.get(k), Some(v), "{k}");
        }
        // Smallest first: the context fields travel in the first fragment.
        assert!(fragments[0].contains_key("operationType") && fragments[0].contains_key("d"));
    }

    #[test]
    fn tokens_are_distinct_and_increasing() {
        let e = event(&[("a", 900), ("b", 900), ("c", 900)]);
        let fragments = split(e, 1100, token).unwrap();
        assert_eq!(fragments.len(), 3);
        let ids: Vec<&str> = fragments
            .iter()
            .map(|f| f.get_document("_id").unwrap().get_str("_data").unwrap())
            .collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{ids:?}");
        }
    }

    #[test]
    fn a_field_larger_than_a_fragment_cannot_be_split() {
        let e = event(&[("a", 10), ("big", 2000)]);
        let err = split(e, 1000, token).unwrap_err();
        assert_eq!(err.code, 7182500);
        assert!(err.errmsg.contains("maximum allowed fragment size 1000"));
    }

    #[test]
    fn too_large_is_10334_with_mongods_wording() {
        let e = too_large(16_800_000, Some(&Bson::Document(doc! {"_data": "8201"})));
        assert_eq!(
            (e.code, e.code_name.as_str()),
            (10334, "BSONObjectTooLarge")
        );
        assert_eq!(
            e.errmsg,
            "BSONObj size: 16800000 (0x1005900) is invalid. Size must be between 0 and 16793600(16MB) First element: _id: { _data: \"8201\" }"
        );
    }
}
