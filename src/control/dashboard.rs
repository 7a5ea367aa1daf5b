//! `GET /`: the dashboard, one page built into the binary (no CDN, no build step). The page is
//! served without the token and holds no data: its script asks for the token when the API
//! answers 401, keeps it in `sessionStorage` and reads everything from `/api/v1` with
//! `Authorization: Bearer`, the event stream included (`fetch` streaming, not `EventSource`,
//! which cannot send the header).
//!
//! The script and the style sheet are inlined into the page, and the page's
//! `Content-Security-Policy` allows exactly those two (by SHA-256) and requests to the same
//! origin: nothing else runs or loads, even if an event carried markup.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const HTML: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// Where the template takes the style sheet and the script.
const STYLE_SLOT: &str = "/*STYLE*/";
const SCRIPT_SLOT: &str = "/*SCRIPT*/";

/// The assembled page and its policy, built once.
struct Page {
    html: String,
    policy: String,
}

fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| Page {
        html: HTML.replacen(STYLE_SLOT, STYLE, 1).replacen(SCRIPT_SLOT, SCRIPT, 1),
        policy: format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            sha256_source(SCRIPT),
            sha256_source(STYLE)
        ),
    })
}

/// The route, outside the token check.
pub fn router() -> Router {
    Router::new().route("/", get(index))
}

async fn index() -> Response {
    let page = page();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, page.policy.as_str()),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page.html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_inlines_its_script_and_style_and_the_policy_allows_only_them() {
        let p = page();
        assert!(!p.html.contains(STYLE_SLOT) && !p.html.contains(SCRIPT_SLOT));
        assert!(p.html.contains(SCRIPT) && p.html.contains(STYLE));
        assert!(p.policy.contains(&sha256_source(SCRIPT)));
        assert!(p.policy.contains(&sha256_source(STYLE)));
        for external in ["src=", "href=", "@import", "url("] {
            assert!(
                !p.html.contains(external),
                "nothing loaded from elsewhere: {external}"
            );
        }
    }
}
