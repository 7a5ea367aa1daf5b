//! Resume tokens: `{_data: "<hex>"}` encoding an oplog position. Fixed-length uppercase hex of
//! big-endian fields, so tokens sort in string order exactly as their positions do (as real
//! tokens do). Clients must treat them as opaque. A fragment of a split event
//! (`$changeStreamSplitLargeEvent`) adds its 0-based number after the event's position, so
//! its tokens sort after the event's own and before anything later, in fragment order.

use crate::error::{CmdError, CmdResult};
use crate::store::oplog::Position;
use bson::{doc, Bson, Document};

/// Version prefix (real tokens also start with `82`).
const PREFIX: &str = "82";
const LEN: usize = PREFIX.len() + 16 + 2;
/// Hex digits of a fragment number.
const FRAGMENT_LEN: usize = 4;

/// The `_id` of an event at `pos` (or a high-water-mark token).
pub(crate) fn encode(pos: Position) -> Document {
    doc! {"_data": format!("{PREFIX}{:016X}{:02X}", pos.ts, pos.kind)}
}

/// The `_id` of fragment `n` (0-based, as mongod's `fragmentNum`) of the event at `pos`.
pub(crate) fn encode_fragment(pos: Position, n: u16) -> Document {
    doc! {"_data": format!("{PREFIX}{:016X}{:02X}{n:04X}", pos.ts, pos.kind)}
}

/// Reads a token back; `BadValue` for anything this server did not produce.
#[cfg(test)]
pub(crate) fn decode(token: &Bson) -> CmdResult<Position> {
    Ok(decode_split(token)?.0)
}

/// Reads a token back with its fragment number, if it is a fragment's.
pub(crate) fn decode_split(token: &Bson) -> CmdResult<(Position, Option<u16>)> {
    let bad = || CmdError::bad_value(format!("Invalid resume token: {token}"));
    let Bson::Document(d) = token else {
        return Err(bad());
    };
    let Some(Bson::String(data)) = d.get("_data") else {
        return Err(bad());
    };
    let split = data.len() == LEN + FRAGMENT_LEN;
    if !(data.len() == LEN || split) || !data.starts_with(PREFIX) || !data.is_ascii() {
        return Err(bad());
    }
    let ts = u64::from_str_radix(&data[2..18], 16).map_err(|_| bad())?;
    let kind = u8::from_str_radix(&data[18..20], 16).map_err(|_| bad())?;
    if kind > Position::AFTER || (split && kind != Position::EVENT) {
        return Err(bad());
    }
    let fragment = if split {
        Some(u16::from_str_radix(&data[LEN..], 16).map_err(|_| bad())?)
    } else {
        None
    };
    Ok((Position { ts, kind }, fragment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::Timestamp;

    #[test]
    fn round_trips_and_sorts_like_positions() {
        let positions = [
            Position::new(
                Timestamp {
                    time: 5,
                    increment: 1,
                },
                Position::EVENT,
            ),
            Position::new(
                Timestamp {
                    time: 5,
                    increment: 1,
                },
                Position::INVALIDATE,
            ),
            Position::new(
                Timestamp {
                    time: 5,
                    increment: 2,
                },
                Position::BEFORE,
            ),
            Position::new(
                Timestamp {
                    time: 6,
                    increment: 0,
                },
                Position::AFTER,
            ),
            Position::new(
                Timestamp {
                    time: 1_700_000_000,
                    increment: 17,
                },
                Position::EVENT,
            ),
        ];
        let tokens: Vec<String> = positions
            .iter()
            .map(|p| encode(*p).get_str("_data").unwrap().to_string())
            .collect();
        for w in tokens.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
        for p in positions {
            assert_eq!(decode(&Bson::Document(encode(p))).unwrap(), p);
        }
    }

    #[test]
    fn fragment_tokens_sort_between_their_event_and_the_next_position() {
        let event = Position {
            ts: 7 << 32,
            kind: Position::EVENT,
        };
        let next = Position {
            ts: 7 << 32,
            kind: Position::INVALIDATE,
        };
        let data = |d: Document| d.get_str("_data").unwrap().to_string();
        let mut tokens = vec![data(encode(event))];
        tokens.extend((0..3).map(|n| data(encode_fragment(event, n))));
        tokens.push(data(encode(next)));
        for w in tokens.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
        let t = Bson::Document(encode_fragment(event, 2));
        assert_eq!(decode_split(&t).unwrap(), (event, Some(2)));
        assert_eq!(
            decode_split(&Bson::Document(encode(event))).unwrap(),
            (event, None)
        );
        // Only an event can be split.
        assert!(decode_split(&Bson::Document(encode_fragment(next, 0))).is_err());
    }

    #[test]
    fn rejects_foreign_tokens() {
        assert!(decode(&Bson::Document(doc! {"_data": "8263ABCDEF"})).is_err());
        assert!(decode(&Bson::Document(doc! {"x": 1})).is_err());
        assert!(decode(&Bson::String("82".into())).is_err());
    }
}
