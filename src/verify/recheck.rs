//! A candidate (a mismatch seen while data moves) becomes a divergence only when it survives a
//! settled comparison: read the source copy with the session's `operationTime` T, wait until the
//! tail has applied every event at or before T (every later event of a document reaches its
//! writer after the earlier ones, so the backup's copy is then at T or newer), read the backup,
//! then the source again. A source copy that changed in between means the document moves:
//! compared again later, never a verdict. Otherwise the backup must equal it; a difference is
//! confirmed by a second settled comparison before it counts.

use crate::error::{Error, Origin, Result};
use crate::source::translate::ClusterTime;
use crate::source::Endpoint;
use crate::state::Position;
use bson::{doc, Bson, RawDocumentBuf};
use mongodb::options::ReadConcern;
use std::time::{Duration, Instant};

/// How often the applied position is polled while waiting.
const POLL: Duration = Duration::from_millis(20);
/// Settled comparisons that must agree before a difference is a divergence.
const CONFIRMATIONS: usize = 2;

/// The outcome of settling one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both sides hold the same document (or neither has it).
    Same,
    /// The source copy changed meanwhile, or the tail did not get past it in time: later.
    Moving,
    /// The backup differs from a source copy that held still: `missing`, `extra`, `different`.
    Diverged(&'static str),
}

/// What settling reads and waits on.
pub struct Settler<'a> {
    pub source: &'a Endpoint,
    pub target: &'a Endpoint,
    pub position: &'a Position,
    /// How long one wait for the tail may take before the candidate is put off.
    pub wait: Duration,
}

/// The kind of difference between a source and a backup copy (pure); `None` when equal.
pub fn kind_of(
    source: Option<&RawDocumentBuf>,
    target: Option<&RawDocumentBuf>,
) -> Option<&'static str> {
    match (source, target) {
        (None, None) => None,
        (Some(_), None) => Some("missing"),
        (None, Some(_)) => Some("extra"),
        (Some(a), Some(b)) if a.as_bytes() == b.as_bytes() => None,
        (Some(_), Some(_)) => Some("different"),
    }
}

impl Settler<'_> {
    /// Settles `(coll, _id)`: [`CONFIRMATIONS`] settled comparisons agreeing on a difference.
    pub async fn settle(&self, coll: &str, id: &Bson) -> Result<Verdict> {
        let mut kind = None;
        for _ in 0..CONFIRMATIONS {
            match self.once(coll, id).await? {
                Verdict::Diverged(k) if kind.is_none_or(|seen| seen == k) => kind = Some(k),
                other => {
                    return Ok(if kind.is_some() {
                        Verdict::Moving
                    } else {
                        other
                    })
                }
            }
        }
        Ok(kind.map_or(Verdict::Same, Verdict::Diverged))
    }

    async fn once(&self, coll: &str, id: &Bson) -> Result<Verdict> {
        let (first, at) = self.read_source(coll, id).await?;
        let Some(at) = at else {
            return Ok(Verdict::Moving);
        };
        if !applied_past(self.position, at, self.wait).await {
            return Ok(Verdict::Moving);
        }
        let backup = read(self.target, coll, id, Origin::Target).await?;
        let (again, _) = self.read_source(coll, id).await?;
        if first.as_ref().map(|d| d.as_bytes()) != again.as_ref().map(|d| d.as_bytes()) {
            return Ok(Verdict::Moving);
        }
        Ok(kind_of(again.as_ref(), backup.as_ref()).map_or(Verdict::Same, Verdict::Diverged))
    }

    /// The source copy (primary, majority) and the time it was read at.
    async fn read_source(
        &self,
        coll: &str,
        id: &Bson,
    ) -> Result<(Option<RawDocumentBuf>, Option<ClusterTime>)> {
        let err = |e: mongodb::error::Error| {
            Error::from_driver(
                Origin::Source,
                format!("re-reading a document of {coll}"),
                &e,
            )
        };
        let mut session = self.source.client().start_session().await.map_err(err)?;
        let found = self
            .source
            .collection::<RawDocumentBuf>(coll)
            .find_one(doc! {"_id": id.clone()})
            .selection_criteria(crate::source::connect::primary())
            .read_concern(ReadConcern::majority())
            .session(&mut session)
            .await
            .map_err(err)?;
        Ok((found, session.operation_time().map(ClusterTime)))
    }
}

/// One document by `_id`.
pub async fn read(
    db: &Endpoint,
    coll: &str,
    id: &Bson,
    origin: Origin,
) -> Result<Option<RawDocumentBuf>> {
    db.collection::<RawDocumentBuf>(coll)
        .find_one(doc! {"_id": id.clone()})
        .await
        .map_err(|e| Error::from_driver(origin, format!("re-reading a document of {coll}"), &e))
}

/// Waits until the tail has applied every event at or before `t`: once an event after `t` was
/// registered (events come in cluster-time order), or two reads of the change stream came back
/// empty after the call (the second began after `t` was read), every event up to `t` has a seq
/// at most the one registered then; the watermark passing it means all are applied. `false`
/// after `limit` (a pause, a hold, a slow tail).
pub async fn applied_past(position: &Position, t: ClusterTime, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let idle_before = position.idle_reads();
    let seq = loop {
        match position.newest_registered() {
            Some((ct, seq)) if ct > t => break seq,
            _ if position.idle_reads() >= idle_before + 2 => break position.last_registered_seq(),
            _ => {}
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    };
    while position.seq() < seq {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{rawdoc, Timestamp};

    fn ct(time: u32) -> ClusterTime {
        ClusterTime(Timestamp { time, increment: 1 })
    }

    #[test]
    fn kinds_follow_which_side_has_what() {
        let a = rawdoc! {"_id": 1, "v": 1};
        let b = rawdoc! {"v": 1, "_id": 1};
        assert_eq!(kind_of(None, None), None);
        assert_eq!(kind_of(Some(&a), None), Some("missing"));
        assert_eq!(kind_of(None, Some(&a)), Some("extra"));
        assert_eq!(kind_of(Some(&a), Some(&a.clone())), None);
        assert_eq!(
            kind_of(Some(&a), Some(&b)),
            Some("different"),
            "field order counts"
        );
    }

    #[tokio::test]
    async fn applied_past_waits_for_a_later_event_and_the_watermark() {
        let p = Position::new();
        let s1 = p.register(doc! {"_data": "1"}, None);
        p.note_cluster_time(s1, Some(ct(10)));
        // Nothing after t=10 yet, the stream never idle: not known.
        assert!(!applied_past(&p, ct(10), Duration::from_millis(60)).await);
        let s2 = p.register(doc! {"_data": "2"}, None);
        p.note_cluster_time(s2, Some(ct(11)));
        // An event after t is registered, but the watermark is behind it.
        assert!(!applied_past(&p, ct(10), Duration::from_millis(60)).await);
        p.ack([s1, s2], None, None);
        assert!(applied_past(&p, ct(10), Duration::from_millis(60)).await);
        // Past everything registered: two empty reads after the call settle it.
        let waiting = {
            let p = p.clone();
            tokio::spawn(async move { applied_past(&p, ct(99), Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        p.set_stream_idle(true);
        p.set_stream_idle(true);
        assert!(waiting.await.unwrap());
    }
}
