//! Document values out of error messages. Server messages can quote document values: a
//! duplicate key error ends with the conflicting key (`dup key: { email: "jane@x.org" }`), and
//! the driver's text of a write error repeats it in `keyValue`. Errors reach `/status` and the
//! logs, so every [`super::Error`] message passes here: the key keeps its field names only
//! (`dup key: { email: <redacted> }`), and a `keyValue` is cut. Pure.

/// What replaces a value.
const REDACTED: &str = "<redacted>";
const DUP_KEY: &str = "dup key:";

/// `message` without the document values it quotes.
pub fn redact_values(message: &str) -> String {
    let mut out = match message.find(DUP_KEY) {
        Some(at) => {
            let rest = &message[at + DUP_KEY.len()..];
            let names = key_field_names(rest.trim_start());
            let key = match names {
                Some(names) if !names.is_empty() => {
                    let fields: Vec<String> =
                        names.iter().map(|n| format!("{n}: {REDACTED}")).collect();
                    format!("{{ {} }}", fields.join(", "))
                }
                _ => REDACTED.to_string(),
            };
            format!("{}{DUP_KEY} {key}", &message[..at])
        }
        None => message.to_string(),
    };
    // The driver's rendering of a write error's details (`keyValue: Some(Document({..}))`).
    if let Some(at) = out.find("keyValue") {
        out.truncate(at);
        out.push_str("keyValue: ");
        out.push_str(REDACTED);
    }
    out
}

/// The field names of the key document `{ a: 1, "b.c": "x" }` at the start of `text`; `None`
/// when it does not parse as one (then nothing of it is shown).
fn key_field_names(text: &str) -> Option<Vec<String>> {
    let body = text.strip_prefix('{')?;
    let mut names = Vec::new();
    let mut chars = body.char_indices().peekable();
    loop {
        // A field name up to its `:`.
        let start = chars.peek()?.0;
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                ':' => break i,
                '{' | '}' | ',' | '[' | ']' => return None,
                _ => {}
            }
        };
        let name = body[start..end]
            .trim()
            .trim_matches(|c| c == '"' || c == '\\');
        if name.is_empty() || !name.chars().all(is_name_char) {
            return None;
        }
        names.push(name.to_string());
        // Its value, up to the `,` or `}` at depth 0 outside strings.
        let mut depth = 0usize;
        let mut in_string = false;
        loop {
            let (_, c) = chars.next()?;
            match c {
                '\\' if in_string => {
                    chars.next()?;
                }
                '"' => in_string = !in_string,
                _ if in_string => {}
                '{' | '[' | '(' => depth += 1,
                '}' if depth == 0 => return Some(names),
                '}' | ']' | ')' => depth = depth.checked_sub(1)?,
                ',' if depth == 0 => break,
                _ => {}
            }
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '$' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_keeps_field_names_and_loses_values() {
        let mongod = r#"E11000 duplicate key error collection: db.users index: email_1 dup key: { email: "jane@x.org" }"#;
        assert_eq!(
            redact_values(mongod),
            "E11000 duplicate key error collection: db.users index: email_1 dup key: { email: <redacted> }"
        );
        // Quoted names (as the BSON text renders them), compound keys, nested values with
        // separators inside strings.
        let compound =
            r#"E11000 dup key: { "org": { "id": 5, "n": "a,b}" }, "user.email": "j@x" }"#;
        let out = redact_values(compound);
        assert_eq!(
            out,
            "E11000 dup key: { org: <redacted>, user.email: <redacted> }"
        );
    }

    #[test]
    fn what_does_not_parse_is_redacted_whole_and_key_values_are_cut() {
        for msg in [
            "E11000 dup key: { email: \"unterminated",
            "E11000 dup key: \"jane@x.org\"",
            "E11000 dup key: { : 1 }",
        ] {
            let out = redact_values(msg);
            assert!(
                !out.contains("jane") && !out.contains("unterminated"),
                "{out}"
            );
            assert!(out.ends_with("dup key: <redacted>"), "{out}");
        }
        let driver = r#"WriteError { code: 11000, details: Some(Document({"keyPattern": {"email": 1}, "keyValue": {"email": "jane@x.org"}})) }"#;
        let out = redact_values(driver);
        assert!(!out.contains("jane"), "{out}");
        assert!(out.contains("keyPattern"), "{out}");
    }

    #[test]
    fn messages_without_values_are_unchanged() {
        let msg = "not primary; retry later";
        assert_eq!(redact_values(msg), msg);
    }
}
