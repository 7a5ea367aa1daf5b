//! A small HTTP/1.1 client: one request per connection (`Connection: close`), for the control
//! CLI (to the replicator's own API) and webhook deliveries (`http://`, or `https://` over the driver's rustls). No client crate
//! is available offline, and one request and one response are a few lines over tokio's TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

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
    let target = Target {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: None,
    };
    send(&target, method, path, &headers, body, TIMEOUT).await
}

/// Where a request goes: `host:port`, over TLS when `tls` is set.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Option<Arc<ClientConfig>>,
}

impl Target {
    /// An `http://` or `https://` URL's target (https trusting the public roots).
    pub fn of(url: &url::Url) -> Option<Target> {
        let tls = match url.scheme() {
            "http" => None,
            "https" => Some(tls_config(public_roots())),
            _ => return None,
        };
        let host = match url.host()? {
            url::Host::Ipv6(ip) => ip.to_string(),
            other => other.to_string(),
        };
        let port = url.port_or_known_default()?;
        Some(Target { host, port, tls })
    }
}

/// The public web's root certificates (Mozilla's, through `webpki-roots`).
pub fn public_roots() -> RootCertStore {
    RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
}

/// A TLS client trusting `roots`, with the driver's crypto provider (ring).
pub fn tls_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// One request to `target` with `headers` and `body` (sent with its `Content-Length`),
/// answered within `timeout`.
pub async fn send(
    target: &Target,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Reply> {
    let authority = match target.host.contains(':') {
        true => format!("[{}]:{}", target.host, target.port),
        false => format!("{}:{}", target.host, target.port),
    };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
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
    let attempt = async {
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
        match &target.tls {
            None => exchange(tcp, &raw_req).await,
            Some(config) => {
                let name = ServerName::try_from(target.host.clone())
                    .map_err(|_| bad("not a TLS server name"))?;
                let tls = TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await?;
                exchange(tls, &raw_req).await
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> std::io::Result<Reply> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    let read = (&mut stream).take(MAX_RESPONSE).read_to_end(&mut raw).await;
    // A TLS server that closes without close_notify still sent a whole answer.
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        other => {
            other?;
        }
    }
    parse(&raw)
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
    use super::*;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A test CA and a `localhost`/`127.0.0.1` certificate it signed (tests/notify/tls).
    const CA: &[u8] = include_bytes!("../../tests/notify/tls/ca.der");
    const LEAF: &[u8] = include_bytes!("../../tests/notify/tls/leaf.der");
    const LEAF_KEY: &[u8] = include_bytes!("../../tests/notify/tls/leaf.key.der");

    /// A TLS server answering one request with 201; yields what it read.
    async fn tls_server() -> (u16, tokio::task::JoinHandle<String>) {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(LEAF_KEY.to_vec()));
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(LEAF.to_vec())], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // The untrusting client of the second case aborts the handshake.
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return String::new();
            };
            let mut buf = vec![0u8; 4096];
            let n = tls.read(&mut buf).await.unwrap();
            tls.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            tls.shutdown().await.unwrap();
            String::from_utf8_lossy(&buf[..n]).to_string()
        });
        (port, served)
    }

    #[tokio::test]
    async fn https_requests_go_over_tls_to_a_trusted_server_only() {
        let (port, served) = tls_server().await;
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(CA.to_vec())).unwrap();
        let target = Target {
            host: "localhost".into(),
            port,
            tls: Some(tls_config(roots)),
        };
        let r = send(&target, "POST", "/hook", &[], Some(b"{}"), TIMEOUT)
            .await
            .unwrap();
        assert_eq!((r.code, r.body.as_str()), (201, "ok"));
        let request = served.await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n{}"), "{request}");

        // The public roots do not include the test CA: refused at the handshake.
        let (port, _served) = tls_server().await;
        let url = url::Url::parse(&format!("https://localhost:{port}/hook")).unwrap();
        let public = Target::of(&url).unwrap();
        let err = send(&public, "POST", "/hook", &[], Some(b"{}"), TIMEOUT).await;
        assert!(err.is_err(), "an untrusted certificate is refused");
    }

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
