//! Telling people end to end through the binary: the `GET /api/v1/events` stream (resumed with
//! `Last-Event-ID`) and signed webhooks to a local receiver.

mod sse;
mod webhook;

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Seeds the source's `orders` with one document and runs the binary on `cfg` in a new
/// directory (returned with it: dropping it removes the directory).
pub async fn start(
    dep: &crate::support::Deployment,
    cfg: &mongo_replicator::config::Config,
) -> (tempfile::TempDir, crate::support::procs::ReplicatorProcess) {
    dep.db(&cfg.source.database)
        .collection::<bson::Document>("orders")
        .insert_one(bson::doc! {"_id": 1})
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::control::started(dir.path(), cfg).await;
    (dir, p)
}

/// Longest wait for one event.
pub const EVENT_WAIT: Duration = Duration::from_secs(60);

/// One Server-Sent Event as read off the wire.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: u64,
    pub kind: String,
    pub data: serde_json::Value,
}

/// A `GET /api/v1/events` connection over real TCP (HTTP/1.0, so the body is the raw stream).
pub struct SseClient {
    reader: BufReader<TcpStream>,
    pub code: u16,
    pub content_type: String,
}

impl SseClient {
    pub async fn connect(addr: SocketAddr, token: &str, last_event_id: Option<u64>) -> SseClient {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut req = format!(
            "GET /api/v1/events HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n"
        );
        if let Some(id) = last_event_id {
            req.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut reader = BufReader::new(stream);
        let (mut code, mut content_type) = (0, String::new());
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if line.starts_with("HTTP/") {
                code = line.split(' ').nth(1).unwrap().parse().unwrap();
            } else if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case("content-type") {
                    content_type = v.trim().to_string();
                }
            }
        }
        SseClient {
            reader,
            code,
            content_type,
        }
    }

    /// The next event (keep-alive comments skipped), or a panic after [`EVENT_WAIT`].
    pub async fn next(&mut self) -> SseEvent {
        let read = async {
            let (mut id, mut kind, mut data) = (None, String::new(), String::new());
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "the stream ended");
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    if !data.is_empty() {
                        let data = serde_json::from_str(&data).expect("data is JSON");
                        return SseEvent {
                            id: id.expect("every event has an id"),
                            kind,
                            data,
                        };
                    }
                    continue;
                }
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse().unwrap());
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
        };
        tokio::time::timeout(EVENT_WAIT, read)
            .await
            .expect("no event in time")
    }

    /// Reads events until one of `kind`; returns all read, that one last.
    pub async fn until(&mut self, kind: &str) -> Vec<SseEvent> {
        let mut read = Vec::new();
        loop {
            let e = self.next().await;
            let done = e.kind == kind;
            read.push(e);
            if done {
                return read;
            }
        }
    }
}
