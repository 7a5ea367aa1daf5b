//! Logical sessions seen by this server (the `lsid` of every command), as mongod's local
//! session cache keeps them: `$listLocalSessions` reads them.

use bson::{doc, spec::BinarySubtype, Binary, Bson, DateTime, Document};
use parking_lot::Mutex;
use std::collections::HashMap;

/// SHA-256 of the empty user name: the `uid` of sessions of an unauthenticated client.
const ANONYMOUS_UID: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Default)]
pub(crate) struct Sessions {
    /// Session id (raw UUID bytes) → (id as sent, last use).
    seen: Mutex<HashMap<Vec<u8>, (Bson, DateTime)>>,
}

impl Sessions {
    /// Records the use of `lsid` (`{id: UUID}`) by a command.
    pub(crate) fn touch(&self, lsid: &Document) {
        if let Some(Bson::Binary(b)) = lsid.get("id") {
            self.seen
                .lock()
                .insert(b.bytes.clone(), (Bson::Binary(b.clone()), DateTime::now()));
        }
    }

    /// `{_id: {id, uid}, lastUse}` for every session seen, most recently used first.
    pub(crate) fn list(&self) -> Vec<Document> {
        let uid = Binary {
            subtype: BinarySubtype::Generic,
            bytes: hex::decode(ANONYMOUS_UID).expect("constant hex"),
        };
        let mut all: Vec<(Bson, DateTime)> = self.seen.lock().values().cloned().collect();
        all.sort_by_key(|(_, used)| std::cmp::Reverse(*used));
        all.into_iter()
            .map(|(id, used)| doc! { "_id": { "id": id, "uid": uid.clone() }, "lastUse": used })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_session_once_with_anonymous_uid() {
        let s = Sessions::default();
        let id = Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![7; 16],
        };
        s.touch(&doc! {"id": id.clone()});
        s.touch(&doc! {"id": id.clone()});
        s.touch(&doc! {"not-an-id": 1});
        let list = s.list();
        assert_eq!(list.len(), 1);
        let key = list[0].get_document("_id").unwrap();
        assert_eq!(key.get("id"), Some(&Bson::Binary(id)));
        assert_eq!(key.get_binary_generic("uid").unwrap().len(), 32);
    }
}
