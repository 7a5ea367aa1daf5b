//! Secrets never leave the process: a [`ConnectionString`] prints with its password (and any
//! `password`-like option) masked, and free text (driver errors) is redacted the same way.

use serde::{Deserialize, Serialize};

/// A connection string. Debug/Display print it with credentials redacted; `expose()` gives the real one.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ConnectionString(String);

impl ConnectionString {
    pub fn new(s: impl Into<String>) -> Self {
        ConnectionString(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_uri(&self.0))
    }
}

impl std::fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_uri(&self.0))
    }
}

/// A secret value (the HTTP token): Debug/Display print [`MASK`]; `expose()` gives the real
/// one. Serializes as itself, so a written configuration file keeps it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

/// Keys whose values are secrets wherever they appear in a configuration rendered as JSON.
const SECRET_KEYS: [&str; 2] = ["token", "secret"];

/// A configuration (as JSON) with every secret masked: values of `token`/`secret` keys become
/// [`MASK`], connection strings inside any string are redacted ([`redact_text`]).
pub fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                        Value::String(MASK.into())
                    } else if let (true, Value::String(url)) = (k == "url", v) {
                        Value::String(super::redact_url(url))
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        Value::String(s) => Value::String(redact_text(s)),
        other => other.clone(),
    }
}

/// What a hidden secret is replaced with.
pub const MASK: &str = "***";

/// URI schemes recognised as MongoDB connection strings.
const SCHEMES: [&str; 2] = ["mongodb+srv://", "mongodb://"];

/// `mongodb://user:secret@h/?authMechanismProperties=...` -> `mongodb://user:***@h/?...`.
///
/// The user name stays (it helps operators); the password and secret-like query options
/// (`password`, `tlsCertificateKeyFilePassword`, `AWS_SESSION_TOKEN:...`) are masked. A string
/// that is not a MongoDB URI is returned unchanged.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme) = SCHEMES.iter().find(|s| starts_with_ignore_case(uri, s)) else {
        return uri.to_string();
    };
    let (head, rest) = uri.split_at(scheme.len());
    let query_start = rest.find('?').unwrap_or(rest.len());
    let (before_query, query) = rest.split_at(query_start);
    let mut out = String::with_capacity(uri.len());
    out.push_str(head);
    out.push_str(&redact_userinfo(before_query));
    out.push_str(&redact_query(query));
    out
}

/// Redacts every connection string found inside free text (error messages from drivers).
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_scheme(rest) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate.find(is_uri_terminator).unwrap_or(candidate.len());
        out.push_str(&redact_uri(&candidate[..end]));
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the password of `user:password@hosts/db`. The user info ends at the last `@` (an
/// unencoded `@` in a password must not leak the part after it).
fn redact_userinfo(authority_and_path: &str) -> String {
    let Some(at) = authority_and_path.rfind('@') else {
        return authority_and_path.to_string();
    };
    let (userinfo, hosts) = authority_and_path.split_at(at);
    match userinfo.find(':') {
        Some(colon) => format!("{}:{MASK}{hosts}", &userinfo[..colon]),
        None => authority_and_path.to_string(),
    }
}

/// Masks secret-like options in `?a=b&c=d` (the leading `?` included when present).
fn redact_query(query: &str) -> String {
    let Some(body) = query.strip_prefix('?') else {
        return query.to_string();
    };
    let options: Vec<String> = body
        .split('&')
        .map(|opt| match opt.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}={MASK}"),
            Some((key, value)) if key.eq_ignore_ascii_case("authMechanismProperties") => {
                format!("{key}={}", redact_mechanism_properties(value))
            }
            _ => opt.to_string(),
        })
        .collect();
    format!("?{}", options.join("&"))
}

/// `SERVICE_NAME:x,AWS_SESSION_TOKEN:secret` -> `SERVICE_NAME:x,AWS_SESSION_TOKEN:***`.
fn redact_mechanism_properties(value: &str) -> String {
    value
        .split(',')
        .map(|prop| match prop.split_once(':') {
            Some((key, _)) if is_secret_key(key) => format!("{key}:{MASK}"),
            _ => prop.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "pwd", "secret", "token"]
        .iter()
        .any(|s| key.contains(s))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Byte offset of the first MongoDB scheme in `text`, case-insensitive.
fn find_scheme(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    lower
        .find("mongodb://")
        .into_iter()
        .chain(lower.find("mongodb+srv://"))
        .min()
}

/// Characters that end a URI embedded in text (quotes and brackets that messages wrap it in).
fn is_uri_terminator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_masks_tokens_and_uri_passwords_and_keeps_the_rest() {
        let shown = redact_json(&serde_json::json!({
            "source": {"uri": "mongodb://u:hunter2@h/?replicaSet=rs0", "database": "d"},
            "http": {"token": "s3cr3t", "token_file": null, "addr": "0.0.0.0:1"},
            "notify": {"webhooks": [{"secret": "w", "url": "http://x/"}]},
        }));
        let text = shown.to_string();
        for leaked in ["hunter2", "s3cr3t", "\"w\""] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert_eq!(shown["source"]["uri"], "mongodb://u:***@h/?replicaSet=rs0");
        assert_eq!(shown["http"]["token"], MASK);
        assert_eq!(shown["http"]["token_file"], serde_json::Value::Null);
        assert_eq!(shown["http"]["addr"], "0.0.0.0:1");
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), MASK);
    }

    #[test]
    fn password_is_masked_user_kept() {
        assert_eq!(
            redact_uri("mongodb://user:pass@host:27017/db"),
            "mongodb://user:***@host:27017/db"
        );
    }

    #[test]
    fn uri_without_credentials_is_unchanged() {
        for uri in [
            "mongodb://localhost:27017/?replicaSet=rs0",
            "mongodb://h1:1,h2:2/db?w=majority&appName=x",
            "mongodb+srv://cluster0.example.net/",
            "mongodb://user@host/?authMechanism=MONGODB-X509",
        ] {
            assert_eq!(redact_uri(uri), uri);
        }
    }

    #[test]
    fn percent_encoded_at_in_password_is_masked() {
        let uri = "mongodb://alice:p%40ss%3Aw0rd@db.example.com/?replicaSet=rs0";
        let red = redact_uri(uri);
        assert_eq!(red, "mongodb://alice:***@db.example.com/?replicaSet=rs0");
        assert!(!red.contains("p%40ss"));
    }

    #[test]
    fn unencoded_at_in_password_does_not_leak_the_tail() {
        let red = redact_uri("mongodb://bob:se@cr@et@host/");
        assert_eq!(red, "mongodb://bob:***@host/");
    }

    #[test]
    fn srv_uri_password_is_masked() {
        let red =
            redact_uri("mongodb+srv://u:hunter2@cluster0.abcde.mongodb.net/test?retryWrites=true");
        assert_eq!(
            red,
            "mongodb+srv://u:***@cluster0.abcde.mongodb.net/test?retryWrites=true"
        );
    }

    #[test]
    fn password_like_options_are_masked() {
        let red = redact_uri(
            "mongodb://h/?tlsCertificateKeyFilePassword=abc&password=def&w=1&authMechanismProperties=SERVICE_NAME:m,AWS_SESSION_TOKEN:tok",
        );
        assert_eq!(
            red,
            "mongodb://h/?tlsCertificateKeyFilePassword=***&password=***&w=1&authMechanismProperties=SERVICE_NAME:m,AWS_SESSION_TOKEN:***"
        );
    }

    #[test]
    fn uris_inside_text_are_masked() {
        let text = "failed to connect to \"mongodb://a:b1@h1,h2/?replicaSet=rs0\" and MONGODB+SRV://c:d2@x.net (retrying)";
        let red = redact_text(text);
        assert_eq!(
            red,
            "failed to connect to \"mongodb://a:***@h1,h2/?replicaSet=rs0\" and MONGODB+SRV://c:***@x.net (retrying)"
        );
    }

    #[test]
    fn text_without_uris_is_unchanged() {
        let text = "Kind: I/O error: connection refused, labels: {}";
        assert_eq!(redact_text(text), text);
    }
}
