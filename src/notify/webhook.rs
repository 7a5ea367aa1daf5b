//! Webhook deliveries: one bounded queue and one task per `[[notify.webhooks]]`, so events go
//! out in order per webhook and a slow or dead receiver holds up only its own queue (full:
//! the oldest event is dropped and counted). Each delivery is a signed POST retried with
//! exponential backoff on failure or 5xx for up to `notify.max_retry_seconds`.

use crate::config::{redact_url, WebhookConfig, WebhookFormat};
use crate::notify::bus::{Event, Sink};
use crate::ops::http_client;
use crate::ops::metrics::Metrics;
use backon::{ExponentialBuilder, Retryable};
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Events waiting per webhook before the oldest is dropped.
pub const QUEUE: usize = 1000;
/// How long one attempt may take, connecting included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// `X-Replicator-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body POSTed for `event`: the event itself, or a one-line message for Slack or Discord.
pub fn body(format: WebhookFormat, event: &Event) -> Value {
    let line = || format!("mongo-replicator: {} {}", event.kind, event.data);
    match format {
        WebhookFormat::Json => event.to_json(),
        WebhookFormat::Slack => json!({ "text": line() }),
        WebhookFormat::Discord => json!({ "content": line() }),
    }
}

/// One webhook's queue, filled by the bus without waiting.
pub struct Queue {
    hook: WebhookConfig,
    events: Mutex<VecDeque<Arc<Event>>>,
    ready: Notify,
    metrics: Arc<Metrics>,
    /// Where `hook.url` points and its path (with the query), `None` for a URL that is not
    /// `http(s)://host...` (refused at config validation).
    target: Option<(http_client::Target, String)>,
}

/// The target and path (with the query) of `url`.
fn target_of(url: &str) -> Option<(http_client::Target, String)> {
    let url = url::Url::parse(url).ok()?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    Some((http_client::Target::of(&url)?, path))
}

impl Sink for Queue {
    fn offer(&self, event: &Arc<Event>) {
        if !self.hook.wants(event.kind) {
            return;
        }
        {
            let mut events = self.events.lock();
            if events.len() >= QUEUE {
                events.pop_front();
                self.metrics.notify_delivery("dropped");
            }
            events.push_back(event.clone());
        }
        self.ready.notify_one();
    }
}

/// Starts delivering to `hook`; the returned queue goes to [`crate::notify::Bus::attach`].
/// Ends once `stop` is cancelled and the queue is empty.
pub fn spawn(
    hook: WebhookConfig,
    max_retry: Duration,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> Arc<Queue> {
    let queue = Arc::new(Queue {
        target: target_of(&hook.url),
        hook,
        events: Mutex::default(),
        ready: Notify::new(),
        metrics,
    });
    let q = queue.clone();
    tokio::spawn(async move {
        loop {
            let next = q.events.lock().pop_front();
            match next {
                Some(event) => deliver(&q, &event, max_retry).await,
                None if stop.is_cancelled() => return,
                None => tokio::select! {
                    _ = q.ready.notified() => {}
                    _ = stop.cancelled() => {}
                },
            }
        }
    });
    queue
}

/// Why one attempt did not count as delivered.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("answered {0}")]
    Status(u16),
}

/// Delivers `event` until a non-5xx answer or `max_retry` has passed.
async fn deliver(q: &Queue, event: &Event, max_retry: Duration) {
    let Some((target, path)) = &q.target else {
        return q.metrics.notify_delivery("failed");
    };
    let payload = body(q.hook.format, event).to_string();
    let delivery = format!("{}-{:016x}", event.id, rand::random::<u64>());
    let started = Instant::now();
    let attempt = || async {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let headers = [
            ("Content-Type", "application/json".to_string()),
            (
                "User-Agent",
                format!("mongo-replicator/{}", env!("CARGO_PKG_VERSION")),
            ),
            ("X-Replicator-Event", event.kind.to_string()),
            ("X-Replicator-Delivery", delivery.clone()),
            (
                "X-Replicator-Signature",
                signature(q.hook.secret.expose(), t, payload.as_bytes()),
            ),
        ]
        .map(|(n, v)| (n.to_string(), v));
        let reply = http_client::send(
            target,
            "POST",
            path,
            &headers,
            Some(payload.as_bytes()),
            ATTEMPT_TIMEOUT,
        )
        .await
        .map_err(Failed::Io)?;
        if reply.code >= 500 {
            return Err(Failed::Status(reply.code));
        }
        Ok(reply.code)
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .with_total_delay(Some(max_retry));
    let outcome = attempt
        .retry(backoff)
        .when(|_| started.elapsed() < max_retry)
        .notify(|_, _| q.metrics.notify_delivery("retried"))
        .await;
    match outcome {
        Ok(code) if (200..300).contains(&code) => q.metrics.notify_delivery("ok"),
        Ok(code) => {
            // A 4xx will not get better by retrying: the receiver refuses this delivery.
            tracing::warn!(webhook = %redact_url(&q.hook.url), event = event.kind, code, "webhook refused the delivery");
            q.metrics.notify_delivery("failed");
        }
        Err(e) => {
            tracing::warn!(webhook = %redact_url(&q.hook.url), event = event.kind, error = %e, "webhook delivery failed for notify.max_retry_seconds; dropped");
            q.metrics.notify_delivery("failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        assert_ne!(sig, signature("Jefe", 1, b"what do ya want for nothing?"));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=0,v1={want}"));
        let mut rfc = Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
        rfc.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(rfc.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_and_discord_get_a_message_they_show() {
        let e = Event {
            id: 3,
            kind: "stalled",
            at: "t".into(),
            data: json!({"lag_seconds": 2}),
        };
        assert_eq!(body(WebhookFormat::Json, &e)["type"], "stalled");
        assert!(body(WebhookFormat::Slack, &e)["text"]
            .as_str()
            .unwrap()
            .contains("stalled"));
        assert!(body(WebhookFormat::Discord, &e)["content"]
            .as_str()
            .unwrap()
            .contains("lag_seconds"));
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_it() {
        let metrics = Metrics::new();
        let hook = WebhookConfig {
            url: "http://127.0.0.1:9/".into(),
            secret: crate::config::Secret::new("s"),
            events: vec!["stalled".into()],
            format: WebhookFormat::Json,
        };
        let q = Queue {
            hook,
            events: Mutex::default(),
            ready: Notify::new(),
            metrics: metrics.clone(),
            target: None,
        };
        for id in 0..QUEUE as u64 + 3 {
            q.offer(&Arc::new(Event {
                id,
                kind: "stalled",
                at: String::new(),
                data: json!({}),
            }));
            q.offer(&Arc::new(Event {
                id,
                kind: "progress",
                at: String::new(),
                data: json!({}),
            }));
        }
        let events = q.events.lock();
        assert_eq!((events.len(), events[0].id), (QUEUE, 3));
        let dropped = metrics.render();
        assert!(
            dropped.contains("notify_deliveries_total{result=\"dropped\"} 3"),
            "{dropped}"
        );
    }
}
