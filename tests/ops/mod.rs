//! What operators see and run: the HTTP endpoints, counters and status end to end, the CLI's
//! exit codes, secrets kept out of every output, and the `demo` command.

mod cli;
mod demo;
mod http;
mod observability;
mod redaction;
mod secrets;
