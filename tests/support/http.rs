//! The one HTTP client of the tests (a minimal `GET` over TCP, as Prometheus, probes and curl
//! send it) and the readers of the Prometheus text the replicator serves. Series are named
//! with the constants of `mongo_replicator::ops::metrics::names`, never with string literals.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 response: status code, lower-cased header names, body.
pub struct Reply {
    pub code: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` with `Connection: close`, read to the end (10 s at most); an error when nothing
/// listens (yet) or the connection breaks.
pub async fn try_get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    request(addr, "GET", path, &[], None).await
}

/// `GET path` with `Authorization: Bearer <token>`.
pub async fn get_with_token(addr: SocketAddr, path: &str, token: &str) -> std::io::Result<Reply> {
    let auth = format!("Bearer {token}");
    request(addr, "GET", path, &[("Authorization", &auth)], None).await
}

/// `POST path` with a JSON `body` (none: empty) and, when given, a bearer token.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    request(addr, "POST", path, &headers, Some(body.unwrap_or(""))).await
}

/// One HTTP/1.1 request with `Connection: close`, read to the end (10 s at most).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(b) = body {
        request.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await??;
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header/body separator");
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        code,
        headers,
        body: body.to_string(),
    })
}

/// `GET path` on a server that must be listening: `(status code, body)`.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let reply = try_get(addr, path)
        .await
        .unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"));
    (reply.code, reply.body)
}

/// `name{label="value"}`: one labelled series.
pub fn series(name: &str, label: &str, value: &str) -> String {
    format!("{name}{{{label}=\"{value}\"}}")
}

/// The value of one series in Prometheus text (exact `name` or `name{labels}` match), 0 when
/// absent.
pub fn metric_value(body: &str, series: &str) -> f64 {
    samples(body)
        .find(|(k, _)| *k == series)
        .map(|(_, v)| v)
        .unwrap_or(0.0)
}

/// The sum of every series of metric `name`, whatever its labels (`copy_documents_total` has
/// one series per collection; a lookup without the label would always read 0).
pub fn metric_sum(body: &str, name: &str) -> f64 {
    samples(body)
        .filter(|(k, _)| {
            k.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
        })
        .map(|(_, v)| v)
        .sum()
}

/// `(series, value)` of every sample line.
fn samples(body: &str) -> impl Iterator<Item = (&str, f64)> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
}
