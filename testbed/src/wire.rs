//! Wire framing: the 16-byte message header, OP_MSG (2013) with body and document-sequence
//! sections, and the legacy OP_QUERY (2004) / OP_REPLY (1) pair that old handshakes use.
//! Pure byte work, no I/O: the server reads whole frames and hands them here.

use bson::{Bson, Document};
use std::io::{self, Cursor, Read};

/// Largest message accepted (`maxMessageSizeBytes` advertised in `hello`).
pub const MAX_MESSAGE_SIZE: usize = 48_000_000;
/// Largest BSON document (`maxBsonObjectSize`).
pub const MAX_BSON_SIZE: usize = 16 * 1024 * 1024;

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_MSG: i32 = 2013;

/// OP_MSG flag bits.
pub const FLAG_CHECKSUM_PRESENT: u32 = 1;
pub const FLAG_MORE_TO_COME: u32 = 1 << 1;

/// The standard message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub length: i32,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

impl Header {
    pub const LEN: usize = 16;

    pub fn parse(bytes: &[u8; 16]) -> Header {
        let int = |i: usize| i32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        Header {
            length: int(0),
            request_id: int(4),
            response_to: int(8),
            op_code: int(12),
        }
    }

    /// Body length after the header, or an error for a length no server would accept.
    pub fn body_len(&self) -> io::Result<usize> {
        let len = usize::try_from(self.length).map_err(|_| invalid("negative message length"))?;
        if !(Header::LEN..=MAX_MESSAGE_SIZE).contains(&len) {
            return Err(invalid(format!("message length {len} out of range")));
        }
        Ok(len - Header::LEN)
    }
}

/// A client request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// OP_MSG: the command with document sequences merged in as arrays.
    Msg {
        command: Document,
        more_to_come: bool,
    },
    /// OP_QUERY on `<db>.$cmd`: the command and its database.
    Query { db: String, command: Document },
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_i32(c: &mut Cursor<&[u8]>) -> io::Result<i32> {
    let mut b = [0u8; 4];
    c.read_exact(&mut b)?;
    Ok(i32::from_le_bytes(b))
}

fn read_cstring(c: &mut Cursor<&[u8]>) -> io::Result<String> {
    let data = *c.get_ref();
    let start = c.position() as usize;
    let end = data[start..]
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| invalid("unterminated cstring"))?;
    let s = std::str::from_utf8(&data[start..start + end])
        .map_err(|_| invalid("cstring is not UTF-8"))?;
    c.set_position((start + end + 1) as u64);
    Ok(s.to_string())
}

fn read_document(c: &mut Cursor<&[u8]>) -> io::Result<Document> {
    Document::from_reader(c).map_err(|e| invalid(format!("bad BSON: {e}")))
}

/// Decodes the body (after the header) of a request.
pub fn parse_request(op_code: i32, body: &[u8]) -> io::Result<Request> {
    match op_code {
        OP_MSG => parse_msg(body),
        OP_QUERY => parse_query(body),
        other => Err(invalid(format!("unsupported opCode {other}"))),
    }
}

fn parse_msg(body: &[u8]) -> io::Result<Request> {
    if body.len() < 4 {
        return Err(invalid("OP_MSG too short"));
    }
    let flags = u32::from_le_bytes(body[0..4].try_into().unwrap());
    // Unknown required bits (0-15) must make the message fail, per the OP_MSG spec.
    if flags & 0xFFFC != 0 {
        return Err(invalid(format!("unsupported OP_MSG flag bits {flags:#x}")));
    }
    // The checksum (CRC32C) trails the sections; it is skipped, not verified.
    let end = if flags & FLAG_CHECKSUM_PRESENT != 0 {
        body.len()
            .checked_sub(4)
            .ok_or_else(|| invalid("missing checksum"))?
    } else {
        body.len()
    };
    let sections = &body[4..end];
    let mut c = Cursor::new(sections);
    let mut command: Option<Document> = None;
    let mut sequences: Vec<(String, Vec<Bson>)> = Vec::new();
    while (c.position() as usize) < sections.len() {
        let mut kind = [0u8; 1];
        c.read_exact(&mut kind)?;
        match kind[0] {
            0 => {
                if command.is_some() {
                    return Err(invalid("OP_MSG with two body sections"));
                }
                command = Some(read_document(&mut c)?);
            }
            1 => {
                let start = c.position() as usize;
                let size = usize::try_from(read_i32(&mut c)?)
                    .map_err(|_| invalid("negative section size"))?;
                let section_end = start
                    .checked_add(size)
                    .filter(|&e| e <= sections.len() && size >= 4);
                let section_end =
                    section_end.ok_or_else(|| invalid("document sequence overruns message"))?;
                let id = read_cstring(&mut c)?;
                let mut docs = Vec::new();
                while (c.position() as usize) < section_end {
                    docs.push(Bson::Document(read_document(&mut c)?));
                }
                if c.position() as usize != section_end {
                    return Err(invalid("document sequence size mismatch"));
                }
                sequences.push((id, docs));
            }
            k => return Err(invalid(format!("unknown OP_MSG section kind {k}"))),
        }
    }
    let mut command = command.ok_or_else(|| invalid("OP_MSG without a body section"))?;
    for (id, docs) in sequences {
        if command.contains_key(&id) {
            return Err(invalid(format!(
                "duplicate field {id} in body and document sequence"
            )));
        }
        command.insert(id, docs);
    }
    Ok(Request::Msg {
        command,
        more_to_come: flags & FLAG_MORE_TO_COME != 0,
    })
}

fn parse_query(body: &[u8]) -> io::Result<Request> {
    let mut c = Cursor::new(body);
    let _flags = read_i32(&mut c)?;
    let full_name = read_cstring(&mut c)?;
    let _skip = read_i32(&mut c)?;
    let _n_return = read_i32(&mut c)?;
    let mut command = read_document(&mut c)?;
    let db = full_name
        .strip_suffix(".$cmd")
        .ok_or_else(|| {
            invalid(format!(
                "OP_QUERY on {full_name} (only commands are supported)"
            ))
        })?
        .to_string();
    // Legacy drivers wrap the command as `{$query: {...}, $readPreference: ...}`.
    if let Ok(inner) = command.get_document("$query") {
        command = inner.clone();
    }
    Ok(Request::Query { db, command })
}

fn header_bytes(out: &mut Vec<u8>, request_id: i32, response_to: i32, op_code: i32) {
    out.extend_from_slice(&0i32.to_le_bytes()); // length, patched by `finish`
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&response_to.to_le_bytes());
    out.extend_from_slice(&op_code.to_le_bytes());
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = out.len() as i32;
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// An OP_MSG reply with one body section.
pub fn encode_msg_reply(
    request_id: i32,
    response_to: i32,
    reply: &Document,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    header_bytes(&mut out, request_id, response_to, OP_MSG);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    reply
        .to_writer(&mut out)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(finish(out))
}

/// An OP_REPLY carrying one document (the answer to an OP_QUERY command).
pub fn encode_op_reply(request_id: i32, response_to: i32, reply: &Document) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    header_bytes(&mut out, request_id, response_to, OP_REPLY);
    out.extend_from_slice(&8i32.to_le_bytes()); // responseFlags: AwaitCapable
    out.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    out.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    out.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    reply
        .to_writer(&mut out)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(finish(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn msg_body(flags: u32, sections: &[u8], checksum: bool) -> Vec<u8> {
        let mut b = flags.to_le_bytes().to_vec();
        b.extend_from_slice(sections);
        if checksum {
            b.extend_from_slice(&[1, 2, 3, 4]);
        }
        b
    }

    fn bytes(d: &Document) -> Vec<u8> {
        let mut v = Vec::new();
        d.to_writer(&mut v).unwrap();
        v
    }

    #[test]
    fn op_msg_merges_document_sequences_into_the_command() {
        let mut sections = vec![0u8];
        sections.extend(bytes(&doc! {"insert": "c", "$db": "d"}));
        let mut seq = Vec::new();
        seq.extend_from_slice(b"documents\0");
        seq.extend(bytes(&doc! {"_id": 1}));
        seq.extend(bytes(&doc! {"_id": 2}));
        sections.push(1);
        sections.extend(((seq.len() + 4) as i32).to_le_bytes());
        sections.extend(seq);
        let req = parse_request(
            OP_MSG,
            &msg_body(FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME, &sections, true),
        )
        .unwrap();
        assert_eq!(
            req,
            Request::Msg {
                command: doc! {"insert": "c", "$db": "d", "documents": [{"_id": 1}, {"_id": 2}]},
                more_to_come: true
            }
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert!(parse_request(OP_MSG, &[0, 0]).is_err());
        assert!(parse_request(OP_MSG, &msg_body(0, &[0, 5, 0, 0], false)).is_err());
        assert!(parse_request(OP_MSG, &msg_body(0, &[7], false)).is_err());
        assert!(
            parse_request(OP_MSG, &msg_body(0, &[], false)).is_err(),
            "no body section"
        );
        assert!(parse_request(2010, &[]).is_err());
        let h = Header::parse(&[
            0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0, 0xDD, 7, 0, 0,
        ]);
        assert!(h.body_len().is_err(), "oversized message");
    }

    #[test]
    fn op_query_on_admin_cmd() {
        let mut body = 0i32.to_le_bytes().to_vec();
        body.extend_from_slice(b"admin.$cmd\0");
        body.extend(0i32.to_le_bytes());
        body.extend((-1i32).to_le_bytes());
        body.extend(bytes(&doc! {"$query": {"isMaster": 1}}));
        let req = parse_request(OP_QUERY, &body).unwrap();
        assert_eq!(
            req,
            Request::Query {
                db: "admin".into(),
                command: doc! {"isMaster": 1}
            }
        );
    }

    #[test]
    fn replies_carry_their_length_and_response_to() {
        let out = encode_msg_reply(5, 9, &doc! {"ok": 1.0}).unwrap();
        let h = Header::parse(out[0..16].try_into().unwrap());
        assert_eq!(
            (h.length as usize, h.request_id, h.response_to, h.op_code),
            (out.len(), 5, 9, OP_MSG)
        );
        let out = encode_op_reply(6, 10, &doc! {"ok": 1.0}).unwrap();
        let h = Header::parse(out[0..16].try_into().unwrap());
        assert_eq!((h.length as usize, h.op_code), (out.len(), OP_REPLY));
        assert_eq!(i32::from_le_bytes(out[32..36].try_into().unwrap()), 1);
    }
}
