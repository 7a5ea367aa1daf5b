//! The dashboard (`GET /`) in headless Chromium, driven over WebDriver, against the binary with
//! a token and traffic running: the page asks for the token, then shows the phase and an
//! events counter that moves, live events from the stream, and its Pause and Resume buttons
//! pause and resume replication (checked through `/api/v1/status`), and at a phone's width
//! nothing is wider than the screen. Screenshots are saved to `target/test-artifacts/`
//! (`dashboard.png`, `dashboard-phone.png`).

use crate::control::{get_authed, json, token_config, TOKEN};
use crate::support::http::try_get;
use crate::support::webdriver::{Driver, Session};
use crate::support::workload::{Traffic, TrafficPlan};
use crate::support::{wait_until, Deployment};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// Where the screenshot goes: the target directory's `test-artifacts/`.
fn artifact(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("test-artifacts").join(name)
}

async fn paused_all(addr: SocketAddr) -> bool {
    json(&get_authed(addr, "/api/v1/status").await)["paused"]["all"] == true
}

/// The number the page shows in `css` (digits only; `None` before the first answer).
async fn number(page: &Session<'_>, css: &str) -> Option<u64> {
    let text = page.text(css).await?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_shows_progress_and_pauses_and_resumes() {
    let dep = Deployment::start().await;
    let cfg = token_config(&dep, "dashboard", &[]);
    let source = dep.db(&cfg.source.database);
    source
        .collection::<bson::Document>("orders")
        .insert_one(bson::doc! {"_id": 0})
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::control::started(dir.path(), &cfg).await;
    wait_until("ready", WAIT, || async {
        p.get("/readyz").await.is_some_and(|(c, _)| c == 200)
    })
    .await;

    // The page itself is open and carries no data; its policy allows only its own script.
    let page = try_get(p.http, "/").await.unwrap();
    assert_eq!(page.code, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!page.body.contains(TOKEN) && !page.body.contains(&cfg.source.database));

    let traffic = Traffic::start(
        &source,
        crate::support::seed(),
        TrafficPlan::new(5, Duration::from_millis(200)),
    );
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    browser.navigate(&format!("http://{}/", p.http)).await;

    // Asked for the token, then the numbers.
    browser.type_text("#token", TOKEN).await;
    browser.click("#login-submit").await;
    wait_until("the page shows the phase", WAIT, || async {
        browser.text("#phase").await.as_deref() == Some("tailing")
    })
    .await;
    let first = std::cell::Cell::new(None);
    wait_until("the events counter shows a number", WAIT, || async {
        first.set(number(&browser, "#applied").await);
        first.get().is_some()
    })
    .await;
    let first = first.get().unwrap();
    wait_until("the events counter moves", WAIT, || async {
        number(&browser, "#applied")
            .await
            .is_some_and(|n| n > first)
    })
    .await;

    browser.click("#pause").await;
    wait_until("Pause pauses replication", WAIT, || paused_all(p.http)).await;
    wait_until("the page shows the pause and its event", WAIT, || async {
        browser.text("#paused").await.as_deref() == Some("all")
            && browser
                .text("#events")
                .await
                .is_some_and(|t| t.contains("paused"))
    })
    .await;
    browser.screenshot(&artifact("dashboard.png")).await;

    browser.click("#resume").await;
    wait_until("Resume resumes replication", WAIT, || async {
        !paused_all(p.http).await
    })
    .await;
    wait_until("the page shows the resume", WAIT, || async {
        browser.text("#paused").await.as_deref() == Some("no")
    })
    .await;

    // Readable on a phone: nothing wider than the screen.
    browser.resize(390, 844).await;
    wait_until("the page fits a phone's width", WAIT, || async {
        let w = browser
            .execute("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        let (scroll, inner) = (w[0].as_u64().unwrap(), w[1].as_u64().unwrap());
        inner <= 420 && scroll <= inner
    })
    .await;
    browser.screenshot(&artifact("dashboard-phone.png")).await;
    browser.close().await;
    traffic.stop().await;
}
