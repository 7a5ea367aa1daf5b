//! Resume tokens: `{_data: "<hex>"}` encoding an oplog position. Fixed-length uppercase hex of
//! big-endian fields, so tokens sort in string order exactly as their positions do (as real
//! tokens do). Clients must treat them as opaque.

use crate::error::{CmdError, CmdResult};
use crate::store::oplog::Position;
use bson::{doc, Bson, Document};

/// Version prefix (real tokens also start with `82`).
const PREFIX: &str = "82";
const LEN: usize = PREFIX.len() + 16 + 2;

/// The `_id` of an event at `pos` (or a high-water-mark token).
pub(crate) fn encode(pos: Position) -> Document {
    doc! {"_data": format!("{PREFIX}{:016X}{:02X}", pos.ts, pos.kind)}
}

/// Reads a token back; `BadValue` for anything this server did not produce.
pub(crate) fn decode(token: &Bson) -> CmdResult<Position> {
    let bad = || CmdError::bad_value(format!("Invalid resume token: {token}"));
    let Bson::Document(d) = token else {
        return Err(bad());
    };
    let Some(Bson::String(data)) = d.get("_data") else {
        return Err(bad());
    };
    if data.len() != LEN || !data.starts_with(PREFIX) {
        return Err(bad());
    }
    let ts = u64::from_str_radix(&data[2..18], 16).map_err(|_| bad())?;
    let kind = u8::from_str_radix(&data[18..20], 16).map_err(|_| bad())?;
    if kind > Position::AFTER {
        return Err(bad());
    }
    Ok(Position { ts, kind })
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
    fn rejects_foreign_tokens() {
        assert!(decode(&Bson::Document(doc! {"_data": "8263ABCDEF"})).is_err());
        assert!(decode(&Bson::Document(doc! {"x": 1})).is_err());
        assert!(decode(&Bson::String("82".into())).is_err());
    }
}
