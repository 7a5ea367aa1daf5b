//! `apply.delay_seconds`: each event is handed on no earlier than its source time (`wallTime`,
//! else its cluster time) plus the delay, the backlog present at start included (its events
//! are old, so only the recent ones wait). The watcher waits *before* registering the event:
//! reading pauses (nothing is buffered beyond the driver's current batch and the normal
//! queues), and the watermark, hence the checkpoint, never passes an event not yet applied; a
//! restart re-reads it and waits again for what is left of its delay. While waiting, an
//! operator's hold decisions are carried out. Lag counts only beyond the delay
//! ([`crate::state::Position::lag_seconds`]); `apply_delay_seconds` shows the delay itself.

use super::hold_gate::source_ms;
use super::watcher::{StreamState, Watcher};
use crate::error::Result;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long an event written at `source_ms` still waits at `now_ms` (`None`: due now).
pub fn due_in(source_ms: i64, delay: Duration, now_ms: i64) -> Option<Duration> {
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let wait = source_ms.saturating_add(delay_ms).saturating_sub(now_ms);
    u64::try_from(wait)
        .ok()
        .filter(|&w| w > 0)
        .map(Duration::from_millis)
}

impl Watcher {
    /// Waits until `event` is due; `false`: stopped meanwhile (the event was not handled).
    pub(super) async fn delay_gate(
        &self,
        event: &bson::RawDocument,
        state: &mut StreamState,
        stop: &CancellationToken,
    ) -> Result<bool> {
        if self.delay.is_zero() {
            return Ok(true);
        }
        let Some(at) = crate::source::translate::event_meta(event)
            .ok()
            .and_then(|m| source_ms(m.wall_time_ms, m.cluster_time))
        else {
            return Ok(true);
        };
        while let Some(wait) = due_in(at, self.delay, bson::DateTime::now().timestamp_millis()) {
            // Lag counts from this event's source write, as it will once registered.
            self.position.hold_lag_from(Some(at));
            self.flush_routed().await?;
            let mut changes = self.hold.holds.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = changes.changed() => self.act_on_holds(state, stop).await?,
                _ = stop.cancelled() => return Ok(false),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Position;

    #[test]
    fn an_event_waits_until_its_source_time_plus_the_delay() {
        let d = Duration::from_secs(3);
        assert_eq!(due_in(10_000, d, 10_000), Some(Duration::from_secs(3)));
        assert_eq!(due_in(10_000, d, 12_500), Some(Duration::from_millis(500)));
        assert_eq!(due_in(10_000, d, 13_000), None, "due exactly then");
        assert_eq!(due_in(10_000, d, 99_000), None, "an old backlog event");
        assert_eq!(due_in(10_000, Duration::ZERO, 10_000), None);
        assert_eq!(
            due_in(i64::MAX, d, 0),
            Some(Duration::from_millis(i64::MAX as u64))
        );
    }

    #[test]
    fn lag_counts_only_beyond_the_delay() {
        let p = Position::new();
        p.set_apply_delay(Duration::from_secs(3));
        p.register(bson::doc! {"_data": "1"}, Some(10_000));
        assert_eq!(p.lag_seconds(12_000), 0.0, "within the delay");
        assert_eq!(p.lag_seconds(15_500), 2.5, "2.5 s beyond it");
    }
}
