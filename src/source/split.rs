//! Reassembly of `$changeStreamSplitLargeEvent` fragments. An event over 16 MiB (a large
//! document plus its update description) cannot be sent whole; servers that support the stage
//! send it as fragments `splitEvent: {fragment: i, of: n}`, each with its own resume token.
//! Pure: no I/O. The reassembled event carries the last fragment's token, so a crash between
//! fragments resumes before the first one and receives them all again.

use bson::Document;

#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Option<Document>,
    next: i32,
    of: i32,
}

impl Reassembler {
    /// True between the first and the last fragment of a split event.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Feeds one event. Unsplit events come back at once; fragments are held until the last.
    pub fn feed(&mut self, mut event: Document) -> Result<Option<Document>, String> {
        let Some(split) = event.remove("splitEvent") else {
            if self.pending.is_some() {
                return Err("an unsplit event arrived between fragments of a split event".into());
            }
            return Ok(Some(event));
        };
        let split = split
            .as_document()
            .cloned()
            .ok_or("splitEvent is not a document")?;
        let fragment = number(&split, "fragment")?;
        let of = number(&split, "of")?;
        if fragment == 1 {
            self.pending = Some(Document::new());
            self.next = 1;
            self.of = of;
        }
        if fragment != self.next || of != self.of {
            return Err(format!(
                "fragment {fragment} of {of} arrived, expected {} of {}",
                self.next, self.of
            ));
        }
        let whole = self
            .pending
            .as_mut()
            .ok_or("fragment without its first part")?;
        for (k, v) in event {
            whole.insert(k, v); // `_id` ends as the last fragment's token
        }
        self.next += 1;
        if fragment == of {
            self.next = 0;
            return Ok(self.pending.take());
        }
        Ok(None)
    }
}

fn number(d: &Document, key: &str) -> Result<i32, String> {
    match d.get(key) {
        Some(bson::Bson::Int32(n)) => Ok(*n),
        Some(bson::Bson::Int64(n)) => Ok(*n as i32),
        _ => Err(format!("splitEvent.{key} missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn unsplit_events_pass_through() {
        let mut r = Reassembler::default();
        let e = doc! {"_id": {"_data": "1"}, "operationType": "insert"};
        assert_eq!(r.feed(e.clone()).unwrap(), Some(e));
    }

    #[test]
    fn fragments_join_with_the_last_token() {
        let mut r = Reassembler::default();
        let a = doc! {"_id": {"_data": "a"}, "splitEvent": {"fragment": 1, "of": 2}, "operationType": "update", "documentKey": {"_id": 1}, "fullDocument": {"_id": 1, "x": 1}};
        let b = doc! {"_id": {"_data": "b"}, "splitEvent": {"fragment": 2, "of": 2}, "updateDescription": {"updatedFields": {"x": 1}, "removedFields": []}};
        assert_eq!(r.feed(a).unwrap(), None);
        let whole = r.feed(b).unwrap().unwrap();
        assert_eq!(whole.get_document("_id").unwrap(), &doc! {"_data": "b"});
        assert_eq!(whole.get_str("operationType").unwrap(), "update");
        assert!(whole.contains_key("updateDescription") && whole.contains_key("fullDocument"));
        assert!(!whole.contains_key("splitEvent"));
    }

    #[test]
    fn out_of_order_fragments_are_an_error() {
        let mut r = Reassembler::default();
        let b = doc! {"_id": {"_data": "b"}, "splitEvent": {"fragment": 2, "of": 2}};
        assert!(r.feed(b).is_err());
    }

    #[test]
    fn a_resume_restarts_the_fragments() {
        let mut r = Reassembler::default();
        let a = doc! {"_id": {"_data": "a"}, "splitEvent": {"fragment": 1, "of": 2}, "x": 1};
        assert_eq!(r.feed(a.clone()).unwrap(), None);
        // The stream resumed before fragment 1 and sends it again.
        assert_eq!(r.feed(a).unwrap(), None);
        let b = doc! {"_id": {"_data": "b"}, "splitEvent": {"fragment": 2, "of": 2}, "y": 2};
        assert!(r.feed(b).unwrap().is_some());
    }
}
