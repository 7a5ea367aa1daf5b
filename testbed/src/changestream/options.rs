//! The body of the `$changeStream` stage, validated as mongod's IDL parser does.

use super::token;
use crate::error::{CmdError, CmdResult};
use crate::store::oplog::Position;
use bson::{Bson, Document, Timestamp};

/// `fullDocument`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FullDocument {
    Default,
    UpdateLookup,
    WhenAvailable,
    Required,
}

/// `fullDocumentBeforeChange`: the pre-image recorded for the change (see `store::preimages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeforeChange {
    Off,
    WhenAvailable,
    Required,
}

/// Where the stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Now,
    ResumeAfter(Position),
    StartAfter(Position),
    AtOperationTime(Timestamp),
}

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub full_document: FullDocument,
    pub before_change: BeforeChange,
    pub start: Origin,
    /// The start token is fragment `n` (0-based) of the split event at the start position.
    pub start_fragment: Option<u16>,
    pub show_expanded: bool,
}

fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Timestamp(_) => "timestamp",
        Bson::Decimal128(_) => "decimal",
        _ => "unknown",
    }
}

fn wrong_type(field: &str, v: &Bson, expected: &str) -> CmdError {
    CmdError::type_mismatch(format!(
        "BSON field '$changeStream.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(v)
    ))
}

fn string<'a>(field: &str, v: &'a Bson) -> CmdResult<&'a str> {
    v.as_str().ok_or_else(|| wrong_type(field, v, "string"))
}

fn boolean(field: &str, v: &Bson) -> CmdResult<bool> {
    match v {
        Bson::Boolean(b) => Ok(*b),
        Bson::Int32(i) => Ok(*i != 0),
        Bson::Int64(i) => Ok(*i != 0),
        Bson::Double(d) => Ok(*d != 0.0),
        _ => Err(wrong_type(field, v, "bool")),
    }
}

fn bad_enum(field: &str, v: &str) -> CmdError {
    CmdError::bad_value(format!(
        "Enumeration value '{v}' for field '$changeStream.{field}' is not a valid value."
    ))
}

/// Parses the stage body.
pub(crate) fn parse(stage: &Document) -> CmdResult<Options> {
    let mut o = Options {
        full_document: FullDocument::Default,
        before_change: BeforeChange::Off,
        start: Origin::Now,
        start_fragment: None,
        show_expanded: false,
    };
    let mut starts = 0;
    for (k, v) in stage {
        match k.as_str() {
            "fullDocument" => {
                o.full_document = match string(k, v)? {
                    "default" => FullDocument::Default,
                    "updateLookup" => FullDocument::UpdateLookup,
                    "whenAvailable" => FullDocument::WhenAvailable,
                    "required" => FullDocument::Required,
                    other => return Err(bad_enum(k, other)),
                }
            }
            "fullDocumentBeforeChange" => {
                o.before_change = match string(k, v)? {
                    "off" => BeforeChange::Off,
                    "whenAvailable" => BeforeChange::WhenAvailable,
                    "required" => BeforeChange::Required,
                    other => return Err(bad_enum(k, other)),
                }
            }
            "resumeAfter" | "startAfter" => {
                if !matches!(v, Bson::Document(_)) {
                    return Err(wrong_type(k, v, "object"));
                }
                let (pos, fragment) = token::decode_split(v)?;
                o.start_fragment = fragment;
                starts += 1;
                o.start = if k == "resumeAfter" {
                    Origin::ResumeAfter(pos)
                } else {
                    Origin::StartAfter(pos)
                };
            }
            "startAtOperationTime" => {
                let Bson::Timestamp(ts) = v else {
                    return Err(wrong_type(k, v, "timestamp"));
                };
                starts += 1;
                o.start = Origin::AtOperationTime(*ts);
            }
            "showExpandedEvents" => o.show_expanded = boolean(k, v)?,
            "allChangesForCluster"
            | "showSystemEvents"
            | "showMigrationEvents"
            | "showRawUpdateDescription"
            | "allowToRunOnConfigDB"
            | "allowToRunOnSystemNS" => {
                boolean(k, v)?;
            }
            _ => {
                return Err(CmdError::new(
                    40415,
                    "Location40415",
                    format!("BSON field '$changeStream.{k}' is an unknown field."),
                ))
            }
        }
    }
    if starts > 1 {
        return Err(CmdError::new(
            40674,
            "Location40674",
            "Only one type of resume option is allowed, but multiple were found.",
        ));
    }
    if let Origin::ResumeAfter(p) = o.start {
        if p.kind == Position::INVALIDATE {
            return Err(CmdError::new(
                260,
                "InvalidResumeToken",
                "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
            ));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;
    use bson::doc;

    #[test]
    fn unknown_option_is_40415() {
        let e = parse(&doc! {"fullDocumnt": "updateLookup"}).unwrap_err();
        assert_eq!(e.code, 40415);
        assert_eq!(
            e.errmsg,
            "BSON field '$changeStream.fullDocumnt' is an unknown field."
        );
    }

    #[test]
    fn bad_values_and_types() {
        assert_eq!(
            parse(&doc! {"fullDocument": "nope"}).unwrap_err().code,
            code::BAD_VALUE
        );
        assert_eq!(
            parse(&doc! {"fullDocument": 1}).unwrap_err().code,
            code::TYPE_MISMATCH
        );
        assert_eq!(
            parse(&doc! {"startAtOperationTime": 1}).unwrap_err().code,
            code::TYPE_MISMATCH
        );
        let t = token::encode(Position {
            ts: 1 << 32,
            kind: Position::EVENT,
        });
        assert_eq!(
            parse(&doc! {"resumeAfter": t.clone(), "startAfter": t})
                .unwrap_err()
                .code,
            40674
        );
    }

    #[test]
    fn parses_known_options() {
        let t = token::encode(Position {
            ts: 9 << 32,
            kind: Position::EVENT,
        });
        let o = parse(
            &doc! {"fullDocument": "updateLookup", "resumeAfter": t, "showExpandedEvents": true},
        )
        .unwrap();
        assert_eq!(o.full_document, FullDocument::UpdateLookup);
        assert!(o.show_expanded);
        assert_eq!(
            o.start,
            Origin::ResumeAfter(Position {
                ts: 9 << 32,
                kind: Position::EVENT
            })
        );
        let inv = token::encode(Position {
            ts: 9 << 32,
            kind: Position::INVALIDATE,
        });
        assert_eq!(
            parse(&doc! {"resumeAfter": inv.clone()}).unwrap_err().code,
            260
        );
        assert!(parse(&doc! {"startAfter": inv}).is_ok());
    }
}
