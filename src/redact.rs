//! Credentials never leave the process: connection strings are printed with the password
//! (and any `password`-like option) replaced.
// OWNER: core-logic helper.

/// `mongodb://user:secret@h/?authMechanismProperties=...` -> `mongodb://user:***@h/?...`.
pub fn redact_uri(uri: &str) -> String {
    let _ = uri;
    todo!("core-logic")
}

/// Redacts every connection string found inside free text (error messages from drivers).
pub fn redact_text(text: &str) -> String {
    let _ = text;
    todo!("core-logic")
}
