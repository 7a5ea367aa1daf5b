//! `[notify]`: when lag events fire, how long a webhook delivery is retried, and the webhooks
//! (crate::notify). Defaults, validation and URL redaction of this section.

use super::Secret;
use serde::{Deserialize, Serialize};

/// `notify.lag_threshold_seconds`: `lag_above` past a minute behind (0 turns lag events off).
pub const LAG_THRESHOLD_SECONDS: u64 = 60;
/// `notify.max_retry_seconds`: a delivery is retried for up to 10 minutes, then counted failed.
pub const MAX_RETRY_SECONDS: u64 = 600;
/// Upper bound of both (a day).
const MAX_SECONDS: u64 = 86_400;
/// Webhooks at most (one queue and one task each).
const MAX_WEBHOOKS: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub lag_threshold_seconds: u64,
    pub max_retry_seconds: u64,
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            lag_threshold_seconds: LAG_THRESHOLD_SECONDS,
            max_retry_seconds: MAX_RETRY_SECONDS,
            webhooks: Vec::new(),
        }
    }
}

/// `[[notify.webhooks]]`: where to POST which events, signed with `secret`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http(s)://host[:port]/path` (shown with any user info masked).
    pub url: String,
    /// HMAC-SHA256 key of `X-Replicator-Signature`.
    pub secret: Secret,
    /// Event types sent (empty: every type but `progress`).
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// The body: the event itself, or a message Slack or Discord shows.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
    Discord,
}

impl WebhookConfig {
    /// Whether events of `kind` go to this webhook.
    pub fn wants(&self, kind: &str) -> bool {
        if self.events.is_empty() {
            kind != "progress"
        } else {
            self.events.iter().any(|e| e == kind)
        }
    }
}

/// `url` with its user info (name and password) masked, for logs and `GET /api/v1/config`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username(super::secrets::MASK);
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => super::secrets::MASK.to_string(),
    }
}

/// Every problem of `[notify]`, each naming its key.
pub(super) fn problems(
    n: &NotifyConfig,
    check: &mut impl FnMut(&str, &dyn std::fmt::Display, Option<String>),
) {
    let at_most = |v: u64| (v > MAX_SECONDS).then(|| format!("at most {MAX_SECONDS}"));
    check(
        "notify.lag_threshold_seconds",
        &n.lag_threshold_seconds,
        at_most(n.lag_threshold_seconds),
    );
    check(
        "notify.max_retry_seconds",
        &n.max_retry_seconds,
        at_most(n.max_retry_seconds),
    );
    if n.webhooks.len() > MAX_WEBHOOKS {
        check(
            "notify.webhooks",
            &n.webhooks.len(),
            Some(format!("at most {MAX_WEBHOOKS} webhooks")),
        );
    }
    for (i, w) in n.webhooks.iter().enumerate() {
        check(
            &format!("notify.webhooks[{i}].url"),
            &redact_url(&w.url),
            url_problem(&w.url),
        );
        if w.secret.expose().is_empty() {
            check(
                &format!("notify.webhooks[{i}].secret"),
                &"\"\"",
                Some("must not be empty (it signs every delivery)".into()),
            );
        }
        for e in &w.events {
            if !crate::notify::KINDS.contains(&e.as_str()) {
                let p = format!("unknown event type; one of {:?}", crate::notify::KINDS);
                check(
                    &format!("notify.webhooks[{i}].events"),
                    &format!("\"{e}\""),
                    Some(p),
                );
            }
        }
    }
}

fn url_problem(url: &str) -> Option<String> {
    let Ok(u) = url::Url::parse(url) else {
        return Some("not a URL (expected http(s)://host[:port]/path)".into());
    };
    match u.scheme() {
        "http" | "https" if u.host_str().is_some() => None,
        _ => Some("expected http(s)://host[:port]/path".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str, events: &[&str]) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: Secret::new("s"),
            events: events.iter().map(|e| e.to_string()).collect(),
            format: WebhookFormat::Json,
        }
    }

    fn found(n: &NotifyConfig) -> Vec<String> {
        let mut out = Vec::new();
        problems(n, &mut |k: &str,
                          _: &dyn std::fmt::Display,
                          p: Option<String>| {
            if let Some(p) = p {
                out.push(format!("{k}: {p}"));
            }
        });
        out
    }

    #[test]
    fn webhook_problems_name_their_key() {
        let n = NotifyConfig {
            webhooks: vec![
                hook("http://127.0.0.1:9/x", &["stalled"]),
                hook("https://h/x", &[]),
                hook("mailto:a@b", &[]),
                hook("ftp://h", &["nope"]),
            ],
            ..NotifyConfig::default()
        };
        let p = found(&n);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("notify.webhooks[2].url"), "{p:?}");
        assert!(p[1].starts_with("notify.webhooks[3].url"), "{p:?}");
        assert!(
            p[2].starts_with("notify.webhooks[3].events: unknown"),
            "{p:?}"
        );
    }

    #[test]
    fn urls_lose_their_user_info_and_filters_default_to_all_but_progress() {
        assert_eq!(
            redact_url("http://tok:pw@h:8/p?q=1"),
            "http://***@h:8/p?q=1"
        );
        assert_eq!(redact_url("http://tok@h/p"), "http://***@h/p");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
        let all = hook("http://h/", &[]);
        assert!(all.wants("stalled") && !all.wants("progress"));
        let some = hook("http://h/", &["progress"]);
        assert!(some.wants("progress") && !some.wants("stalled"));
    }
}
