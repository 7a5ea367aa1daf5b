//! A small HTTP/1.1 client: one request per connection (`Connection: close`), for the control
//! CLI (to the replicator's own API) and webhook deliveries (plain `http://`). No client crate
//! is available offline, and one request and one response are a few lines over tokio's TCP.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest response read (a webhook receiver's answer is not read for its content).
const MAX_RESPONSE: u64 = 1024 * 1024;

/// A response: status code and body.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: String,
}

/// `method path` with an optional bearer token and JSON body, to the replicator's API.
/// Errors: cannot connect, the connection broke, the answer is not HTTP, or [`TIMEOUT`].
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
    if let Some(t) = token {
        headers.push(("Authorization".into(), format!("Bearer {t}")));
    }
    let body = body.map(str::as_bytes);
    if method != "GET" {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let host = addr.to_string();
    send(&host, method, path, &headers, body, TIMEOUT).await
}

/// One request to `host` (`name:port`) with `headers` and `body` (sent with its
/// `Content-Length`), answered within `timeout`.
pub async fn send(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Reply> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if body.is_some() || method != "GET" {
        req.push_str(&format!(
            "Content-Length: {}\r\n",
            body.map_or(0, <[u8]>::len)
        ));
    }
    req.push_str("\r\n");
    let mut raw_req = req.into_bytes();
    raw_req.extend_from_slice(body.unwrap_or_default());
    let exchange = async {
        let mut stream = TcpStream::connect(host).await?;
        stream.write_all(&raw_req).await?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE).read_to_end(&mut raw).await?;
        parse(&raw)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Parses a whole HTTP/1.1 response (`Content-Length`, chunked, or read to the end).
pub fn parse(raw: &[u8]) -> std::io::Result<Reply> {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("not an HTTP response"))?;
    let mut lines = head.lines();
    let code = lines
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..len).unwrap_or(rest).to_string()
    } else {
        rest.to_string()
    };
    Ok(Reply { code, body })
}

fn dechunk(mut rest: &str) -> std::io::Result<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or_else(|| bad("truncated chunk"))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after.get(..size).ok_or_else(|| bad("truncated chunk"))?;
        out.push_str(chunk);
        rest = after.get(size..).unwrap_or("").trim_start_matches("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_length_chunked_and_to_the_end_bodies() {
        let r = parse(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.code, r.body.as_str()), (401, "{}"));
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.code, r.body.as_str()), (200, "abcde"));
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\nall of it").unwrap();
        assert_eq!(r.body, "all of it");
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
