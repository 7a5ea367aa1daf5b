//! Command errors as real servers send them: `ok: 0`, `errmsg`, `code`, `codeName`, optional
//! `errorLabels`, plus any extra fields a specific error carries (e.g. `keyPattern`, `keyValue`).

use bson::{doc, Bson, Document};

/// A failed command or write statement, rendered into the reply exactly as mongod does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code_name} ({code}): {errmsg}")]
pub struct CmdError {
    pub code: i32,
    pub code_name: String,
    pub errmsg: String,
    pub labels: Vec<String>,
    /// Extra top-level fields (e.g. `keyPattern`, `keyValue` for 11000).
    pub extra: Document,
}

/// Error codes used by the testbed (values from mongo/base/error_codes.yml).
pub mod code {
    pub const INTERNAL_ERROR: i32 = 1;
    pub const BAD_VALUE: i32 = 2;
    pub const NO_SUCH_KEY: i32 = 4;
    pub const FAILED_TO_PARSE: i32 = 9;
    pub const TYPE_MISMATCH: i32 = 14;
    pub const ILLEGAL_OPERATION: i32 = 20;
    pub const NAMESPACE_NOT_FOUND: i32 = 26;
    pub const INDEX_NOT_FOUND: i32 = 27;
    pub const PATH_NOT_VIABLE: i32 = 28;
    pub const CONFLICTING_UPDATE_OPERATORS: i32 = 40;
    pub const CURSOR_NOT_FOUND: i32 = 43;
    pub const NAMESPACE_EXISTS: i32 = 48;
    pub const DOLLAR_PREFIXED_FIELD_NAME: i32 = 52;
    pub const INVALID_ID_FIELD: i32 = 53;
    pub const COMMAND_NOT_FOUND: i32 = 59;
    pub const IMMUTABLE_FIELD: i32 = 66;
    pub const INVALID_OPTIONS: i32 = 72;
    pub const INVALID_NAMESPACE: i32 = 73;
    pub const INDEX_OPTIONS_CONFLICT: i32 = 85;
    pub const INDEX_KEY_SPECS_CONFLICT: i32 = 86;
    pub const HOST_UNREACHABLE: i32 = 6;
    pub const NOT_WRITABLE_PRIMARY: i32 = 10107;
    pub const CHANGE_STREAM_HISTORY_LOST: i32 = 286;
    pub const CHANGE_STREAM_FATAL_ERROR: i32 = 280;
    pub const DUPLICATE_KEY: i32 = 11000;
    pub const BSON_OBJECT_TOO_LARGE: i32 = 10334;
    pub const LOCATION_16755: i32 = 16755;
    pub const DOCUMENT_VALIDATION_FAILURE: i32 = 121;
    pub const COMMAND_NOT_SUPPORTED_ON_VIEW: i32 = 166;
    pub const SNAPSHOT_TOO_OLD: i32 = 239;
}

impl CmdError {
    pub fn new(code: i32, code_name: &str, errmsg: impl Into<String>) -> Self {
        CmdError {
            code,
            code_name: code_name.to_string(),
            errmsg: errmsg.into(),
            labels: Vec::new(),
            extra: Document::new(),
        }
    }

    pub fn bad_value(msg: impl Into<String>) -> Self {
        Self::new(code::BAD_VALUE, "BadValue", msg)
    }

    pub fn failed_to_parse(msg: impl Into<String>) -> Self {
        Self::new(code::FAILED_TO_PARSE, "FailedToParse", msg)
    }

    pub fn type_mismatch(msg: impl Into<String>) -> Self {
        Self::new(code::TYPE_MISMATCH, "TypeMismatch", msg)
    }

    pub fn namespace_not_found(msg: impl Into<String>) -> Self {
        Self::new(code::NAMESPACE_NOT_FOUND, "NamespaceNotFound", msg)
    }

    pub fn command_not_found(name: &str) -> Self {
        Self::new(
            code::COMMAND_NOT_FOUND,
            "CommandNotFound",
            format!("no such command: '{name}'"),
        )
    }

    pub fn history_lost(msg: impl Into<String>) -> Self {
        Self::new(
            code::CHANGE_STREAM_HISTORY_LOST,
            "ChangeStreamHistoryLost",
            msg,
        )
    }

    /// E11000 as mongod words it, with `keyPattern` and `keyValue`.
    pub fn duplicate_key(
        ns: &str,
        index_name: &str,
        key_pattern: Document,
        key_value: Document,
    ) -> Self {
        let rendered = Bson::Document(key_value.clone()).to_string();
        let mut e = Self::new(
            code::DUPLICATE_KEY,
            "DuplicateKey",
            format!("E11000 duplicate key error collection: {ns} index: {index_name} dup key: {rendered}"),
        );
        e.extra.insert("keyPattern", key_pattern);
        e.extra.insert("keyValue", key_value);
        e
    }

    pub fn with_label(mut self, label: &str) -> Self {
        if !self.labels.iter().any(|l| l == label) {
            self.labels.push(label.to_string());
        }
        self
    }

    /// The whole command reply for this error (`ok: 0` first, as mongod orders it).
    pub fn to_reply(&self) -> Document {
        let mut d = doc! { "ok": 0.0, "errmsg": &self.errmsg, "code": self.code, "codeName": &self.code_name };
        if !self.labels.is_empty() {
            d.insert("errorLabels", self.labels.clone());
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }

    /// The entry of a `writeErrors` array for statement `index`.
    pub fn to_write_error(&self, index: usize) -> Document {
        let mut d = doc! { "index": index as i32, "code": self.code, "errmsg": &self.errmsg };
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

pub type CmdResult<T> = Result<T, CmdError>;
