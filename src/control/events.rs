//! `GET /api/v1/events`: the event bus as Server-Sent Events. Each event's SSE `id` is its bus
//! id, so a client reconnecting with `Last-Event-ID` gets the events it missed from the bus's
//! ring (the newest [`crate::notify::bus::RING`]), then the live ones. A reader that falls
//! behind skips the oldest (counted in `notify_events_lost_total`); the stream ends after
//! `shutdown`.

use crate::control::api::Api;
use crate::notify::Event;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

fn to_sse(e: &Event) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind)
        .data(e.to_json().to_string()))
}

/// The id after which to resume: `Last-Event-ID` (what browsers send on reconnecting), 0 when
/// absent or not a number (everything kept).
pub fn last_event_id(headers: &HeaderMap) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub async fn stream(
    State(api): State<Api>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let after = last_event_id(&headers);
    let (kept, rx) = api.status.bus().resume(after);
    let last = kept.last().map_or(after, |e| e.id);
    let metrics = api.metrics.clone();
    let live = futures::stream::unfold(Some((rx, last)), move |state| {
        let metrics = metrics.clone();
        async move {
            let (mut rx, last) = state?;
            loop {
                match rx.recv().await {
                    // Already sent from the ring (emitted between taking the ring and now).
                    Ok(e) if e.id <= last => continue,
                    Ok(e) => {
                        let next = (e.kind != "shutdown").then_some((rx, e.id));
                        return Some((e, next));
                    }
                    Err(RecvError::Lagged(n)) => metrics.notify_events_lost(n),
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let events = futures::stream::iter(kept).chain(live.map(|e: Arc<Event>| e));
    Sse::new(events.map(|e| to_sse(&e))).keep_alive(KeepAlive::default())
}
