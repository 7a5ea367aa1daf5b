//! The `failCommand` fail point (`configureFailPoint`), as mongod's test commands implement it:
//! modes `alwaysOn` / `off` / `{times: n}` / `{skip: n}`, and `data.failCommands`, `errorCode`,
//! `errorLabels`, `closeConnection`, `blockConnection` + `blockTimeMS`, `appName`,
//! `writeConcernError`. Drivers' own test suites drive servers this way, and so do ours.
//! Also `failGetMoreAfterCursorCheckout` (`data.errorCode`): the next `getMore`s fail once their
//! cursor is checked out, which kills the cursor, as mongod's fail point of that name does.

use crate::error::{CmdError, CmdResult};
use bson::{doc, Bson, Document};
use parking_lot::Mutex;
use std::time::Duration;

/// Codes for which mongod labels a failed retryable write `RetryableWriteError`.
const RETRYABLE_WRITE_CODES: &[i32] = &[
    6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
];

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    AlwaysOn,
    /// Fires this many more times, then turns itself off.
    Times(u64),
    /// Lets this many matching commands through, then is always on.
    Skip(u64),
}

#[derive(Debug, Clone)]
struct FailCommand {
    mode: Mode,
    commands: Vec<String>,
    error_code: Option<i32>,
    error_labels: Option<Vec<String>>,
    close_connection: bool,
    block: Option<Duration>,
    app_name: Option<String>,
    write_concern_error: Option<Document>,
}

/// What a triggered fail point does to one command, in this order: block, then close the
/// connection, or fail with an error, or run the command and attach a write concern error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Action {
    pub block: Option<Duration>,
    pub close_connection: bool,
    pub error: Option<CmdError>,
    pub write_concern_error: Option<Document>,
}

/// `failGetMoreAfterCursorCheckout`: how often it fires and the code it fails with.
#[derive(Debug, Clone)]
struct FailGetMore {
    mode: Mode,
    code: i32,
}

/// The server's fail points.
#[derive(Default)]
pub(crate) struct FailPoints {
    fail_command: Mutex<Option<FailCommand>>,
    fail_get_more: Mutex<Option<FailGetMore>>,
}

/// Consumes one activation of `mode`: false while a `skip` lets the command through.
fn fire(mode: &mut Mode) -> bool {
    match mode {
        Mode::AlwaysOn => true,
        Mode::Skip(n) if *n > 0 => {
            *n -= 1;
            false
        }
        Mode::Skip(_) => true,
        Mode::Times(n) => {
            *n -= 1;
            true
        }
    }
}

fn parse_count(v: &Bson) -> CmdResult<u64> {
    let n = match v {
        Bson::Int32(n) => *n as i64,
        Bson::Int64(n) => *n,
        Bson::Double(f) if f.fract() == 0.0 => *f as i64,
        _ => {
            return Err(CmdError::type_mismatch(
                "fail point mode count must be a number",
            ))
        }
    };
    u64::try_from(n).map_err(|_| CmdError::bad_value("fail point mode count must be >= 0"))
}

fn parse_mode(v: Option<&Bson>) -> CmdResult<Option<Mode>> {
    match v {
        Some(Bson::String(s)) if s == "alwaysOn" => Ok(Some(Mode::AlwaysOn)),
        Some(Bson::String(s)) if s == "off" => Ok(None),
        Some(Bson::Document(d)) => {
            if let Some(n) = d.get("times") {
                let n = parse_count(n)?;
                Ok((n > 0).then_some(Mode::Times(n)))
            } else if let Some(n) = d.get("skip") {
                Ok(Some(Mode::Skip(parse_count(n)?)))
            } else {
                Err(CmdError::bad_value("mode must have 'times' or 'skip'"))
            }
        }
        _ => Err(CmdError::bad_value("missing or invalid fail point mode")),
    }
}

fn parse_data(mode: Mode, data: &Document) -> CmdResult<FailCommand> {
    let commands = match data.get_array("failCommands") {
        Ok(a) => a
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        Err(_) => {
            return Err(CmdError::bad_value(
                "failCommand requires data.failCommands",
            ))
        }
    };
    let error_code = match data.get("errorCode") {
        None => None,
        Some(v) => Some(parse_count(v)? as i32),
    };
    let error_labels = data.get_array("errorLabels").ok().map(|a| {
        a.iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect()
    });
    let block = if data.get_bool("blockConnection").unwrap_or(false) {
        let ms = data
            .get("blockTimeMS")
            .ok_or_else(|| CmdError::bad_value("blockConnection requires blockTimeMS"))?;
        Some(Duration::from_millis(parse_count(ms)?))
    } else {
        None
    };
    Ok(FailCommand {
        mode,
        commands,
        error_code,
        error_labels,
        close_connection: data.get_bool("closeConnection").unwrap_or(false),
        block,
        app_name: data.get_str("appName").ok().map(str::to_string),
        write_concern_error: data.get_document("writeConcernError").ok().cloned(),
    })
}

impl FailPoints {
    /// The `configureFailPoint` command; replies `{count: <times it was entered before>}` like mongod.
    pub(crate) fn configure(&self, cmd: &Document) -> CmdResult<Document> {
        let name = cmd
            .get_str("configureFailPoint")
            .map_err(|_| CmdError::type_mismatch("fail point name must be a string"))?;
        let mode = parse_mode(cmd.get("mode"))?;
        let data = cmd.get_document("data").ok();
        if name == "failGetMoreAfterCursorCheckout" {
            let code = match data.and_then(|d| d.get("errorCode")) {
                Some(v) => parse_count(v)? as i32,
                None => crate::error::code::INTERNAL_ERROR,
            };
            *self.fail_get_more.lock() = mode.map(|mode| FailGetMore { mode, code });
            return Ok(doc! { "count": 0i64 });
        }
        if name != "failCommand" {
            return Err(CmdError::bad_value(format!("Unknown fail point: {name}")));
        }
        let new = match mode {
            None => None,
            Some(mode) => Some(parse_data(mode, data.unwrap_or(&Document::new()))?),
        };
        *self.fail_command.lock() = new;
        Ok(doc! { "count": 0i64 })
    }

    /// Checks (and consumes) the fail point for one command. `cmd` is the full command body
    /// (for `txnNumber`), `app_name` the client's handshake application name.
    pub(crate) fn check(
        &self,
        name: &str,
        cmd: &Document,
        app_name: Option<&str>,
    ) -> Option<Action> {
        if matches!(name, "configureFailPoint") {
            return None;
        }
        let mut guard = self.fail_command.lock();
        let fp = guard.as_mut()?;
        if !fp.commands.iter().any(|c| c == name) {
            return None;
        }
        if let Some(want) = &fp.app_name {
            if app_name != Some(want.as_str()) {
                return None;
            }
        }
        if !fire(&mut fp.mode) {
            return None;
        }
        let action = fp.action(name, cmd);
        if fp.mode == Mode::Times(0) {
            *guard = None;
        }
        Some(action)
    }

    /// Checks (and consumes) `failGetMoreAfterCursorCheckout` for a `getMore` that has checked
    /// its cursor out: the error it must fail with (no labels: the caller adds what mongod would).
    pub(crate) fn check_get_more(&self) -> Option<CmdError> {
        let mut guard = self.fail_get_more.lock();
        let fp = guard.as_mut()?;
        if !fire(&mut fp.mode) {
            return None;
        }
        let code = fp.code;
        if fp.mode == Mode::Times(0) {
            *guard = None;
        }
        Some(CmdError::new(
            code,
            code_name(code),
            "Hit the 'failGetMoreAfterCursorCheckout' failpoint",
        ))
    }
}

/// Codes for which mongod labels a failed change-stream `aggregate`/`getMore`
/// `ResumableChangeStreamError` (network, not-primary, shutdown, stale routing, retry errors).
pub(crate) const RESUMABLE_CHANGE_STREAM_CODES: &[i32] = &[
    6, 7, 63, 89, 91, 133, 150, 189, 234, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436,
];

impl FailCommand {
    fn action(&self, name: &str, cmd: &Document) -> Action {
        let error = self.error_code.map(|code| {
            let mut e = CmdError::new(
                code,
                code_name(code),
                format!("Failing command {name} via 'failCommand' failpoint"),
            );
            match &self.error_labels {
                Some(labels) => e.labels = labels.clone(),
                None => {
                    let retryable_write =
                        cmd.contains_key("txnNumber") && !cmd.contains_key("autocommit");
                    if retryable_write && RETRYABLE_WRITE_CODES.contains(&code) {
                        e = e.with_label("RetryableWriteError");
                    }
                }
            }
            e
        });
        Action {
            block: self.block,
            close_connection: self.close_connection,
            error,
            write_concern_error: self.write_concern_error.clone(),
        }
    }
}

/// `codeName` for the codes tests commonly inject (mongo/base/error_codes.yml).
fn code_name(code: i32) -> &'static str {
    match code {
        1 => "InternalError",
        2 => "BadValue",
        6 => "HostUnreachable",
        7 => "HostNotFound",
        11 => "UserNotFound",
        13 => "Unauthorized",
        18 => "AuthenticationFailed",
        43 => "CursorNotFound",
        50 => "MaxTimeMSExpired",
        89 => "NetworkTimeout",
        91 => "ShutdownInProgress",
        112 => "WriteConflict",
        63 => "StaleShardVersion",
        133 => "FailedToSatisfyReadPreference",
        150 => "StaleEpoch",
        189 => "PrimarySteppedDown",
        234 => "RetryChangeStream",
        262 => "ExceededTimeLimit",
        280 => "ChangeStreamFatalError",
        286 => "ChangeStreamHistoryLost",
        9001 => "SocketException",
        10107 => "NotWritablePrimary",
        11000 => "DuplicateKey",
        11600 => "InterruptedAtShutdown",
        11602 => "InterruptedDueToReplStateChange",
        13388 => "StaleConfig",
        13435 => "NotPrimaryNoSecondaryOk",
        13436 => "NotPrimaryOrSecondary",
        _ => "UnknownError",
    }
}

#[cfg(test)]
mod tests;
