//! A small WebDriver client (W3C WebDriver, JSON over HTTP) driving Debian's headless Chromium
//! through `chromedriver`, with the project's HTTP response parser (`ops::http_client::parse`):
//! start a session, navigate, find elements by CSS selector, click, type, read text, take a
//! screenshot. No browser-automation crate is available offline, and these few calls are all
//! the dashboard test needs. chromedriver answers `Connection: close` but keeps the socket
//! open, so an answer is read up to its `Content-Length`, not to the end of the stream.

use base64::Engine;
use mongo_replicator::ops::http_client::{parse, Reply};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// A command may start the browser (a new session): generous on a loaded machine.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The W3C name of an element reference in answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags for a closed network, as root, without a display: no sandbox (root), no
/// GPU, and none of the background connections the machine would refuse.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
];

/// `chromedriver` on a free port, killed on drop.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    /// Starts chromedriver; panics with what to install when Chromium or the driver is missing.
    pub async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install Debian's browser for the dashboard test with \
                 `apt-get install -y chromium chromium-driver` (.ci/run does)"
            );
        }
        let port = super::procs::free_port();
        // Its own process group, which the browsers it starts join: dropping the driver ends
        // them too, even when a failing test never closed its session.
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        super::wait_until(
            "chromedriver listening",
            Duration::from_secs(60),
            || async { driver.call("GET", "/status", None).await.is_ok() },
        )
        .await;
        driver
    }

    /// One request on its own connection, answered within [`COMMAND_TIMEOUT`].
    async fn exchange(&self, method: &str, path: &str, body: &str) -> std::io::Result<Reply> {
        let mut stream = TcpStream::connect(self.addr).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(req.as_bytes()).await?;
        let read = async {
            let mut raw = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buf).await?;
                raw.extend_from_slice(&buf[..n]);
                if n == 0 || complete(&raw) {
                    return parse(&raw);
                }
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, read)
            .await
            .map_err(|_| {
                std::io::Error::other(format!("chromedriver: no answer to {method} {path}"))
            })?
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = self.exchange(method, path, &body).await?;
        let v: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
            panic!(
                "chromedriver {method} {path}: not JSON ({e}): {}",
                reply.body
            )
        });
        if reply.code >= 400 {
            return Err(std::io::Error::other(format!(
                "chromedriver {method} {path}: {} {}",
                reply.code, v["value"]
            )));
        }
        Ok(v["value"].clone())
    }

    /// A new browser with a fresh profile in `profile` (a directory the caller removes).
    pub async fn session(&self, profile: &Path) -> Session<'_> {
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let v = self
            .call("POST", "/session", Some(&caps))
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
        let id = v["sessionId"].as_str().expect("sessionId").to_string();
        Session { driver: self, id }
    }
}

/// Whether `raw` holds a whole answer: its head and `Content-Length` bytes of body.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|len| raw.len() >= end + 4 + len)
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window. [`Session::close`] ends it (the driver's drop kills what is left).
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> std::io::Result<Value> {
        let path = format!("/session/{}{path}", self.id);
        self.driver.call(method, &path, body.as_ref()).await
    }

    pub async fn navigate(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// The element matching `css`, `None` when there is none (yet).
    pub async fn find(&self, css: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.cmd("POST", "/element", Some(body)).await.ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Whether element `e` is shown (a hidden one can be neither clicked nor typed into).
    async fn displayed(&self, e: &str) -> bool {
        let v = self
            .cmd("GET", &format!("/element/{e}/displayed"), None)
            .await;
        v.is_ok_and(|v| v == true)
    }

    /// The element matching `css`, waiting until it is shown (the page's script may still be
    /// deciding what to show when the page has loaded).
    pub async fn element(&self, css: &str) -> String {
        let found = std::cell::RefCell::new(None);
        super::wait_until(
            &format!("element {css} shown"),
            Duration::from_secs(60),
            || async {
                let Some(e) = self.find(css).await else {
                    return false;
                };
                let shown = self.displayed(&e).await;
                *found.borrow_mut() = Some(e);
                shown
            },
        )
        .await;
        found.into_inner().unwrap()
    }

    /// The rendered text of `css` (empty while it is hidden), `None` when absent.
    pub async fn text(&self, css: &str) -> Option<String> {
        let e = self.find(css).await?;
        let v = self
            .cmd("GET", &format!("/element/{e}/text"), None)
            .await
            .ok()?;
        v.as_str().map(str::to_string)
    }

    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})))
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    pub async fn type_text(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    /// The value `script` (a function body) returns in the page.
    pub async fn execute(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.cmd("POST", "/execute/sync", Some(body))
            .await
            .unwrap_or_else(|e| panic!("execute {script}: {e}"))
    }

    /// Resizes the window (CSS pixels).
    pub async fn resize(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        self.cmd("POST", "/window/rect", Some(body))
            .await
            .unwrap_or_else(|e| panic!("resize to {width}x{height}: {e}"));
    }

    /// A PNG of the window, written to `path` (its directory created).
    pub async fn screenshot(&self, path: &Path) {
        let v = self
            .cmd("GET", "/screenshot", None)
            .await
            .expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.cmd("DELETE", "", None).await;
    }
}
