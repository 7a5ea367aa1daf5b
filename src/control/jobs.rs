//! Resync jobs (`POST /api/v1/resync`, `GET /api/v1/jobs/{id}`): a queue the tail's job runner
//! ([`crate::control::resync_job`]) takes from, one job at a time, and the recent jobs with their
//! state and counts. Kept in memory only: a restart forgets them (a job cut short by the end of a
//! tail goes back to the queue and starts over with the next one; one cut short by the process
//! ending is gone, and repairing again is always safe). At most [`MAX_JOBS`] are kept: the oldest
//! finished ones make room; at most [`MAX_ACTIVE`] may wait or run at once.

use bson::Bson;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Jobs kept for `GET /api/v1/jobs/{id}`, finished ones evicted oldest first.
pub const MAX_JOBS: usize = 100;
/// Jobs queued or running at once; a submission past it is refused (429).
pub const MAX_ACTIVE: usize = 16;

/// What a job repairs.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub collection: String,
    /// `None`: the whole collection; else these `_id`s.
    pub ids: Option<Vec<Bson>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    fn active(self) -> bool {
        matches!(self, State::Queued | State::Running)
    }
}

/// Progress: documents compared, written from the source, deleted from the backup, and parked
/// (the backup refused them for good; `GET /api/v1/failed` lists them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub examined: u64,
    pub rewritten: u64,
    pub deleted: u64,
    pub parked: u64,
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    spec: Spec,
    state: State,
    submitted: SystemTime,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    counts: Counts,
    error: Option<String>,
}

/// The registry shared by the control API (submit, show) and the job runner (take, count, finish).
pub struct Jobs {
    inner: Mutex<Inner>,
    queued: Notify,
}

struct Inner {
    /// Ids are `<process start, unix seconds>-<n>`: a job of an earlier process is never
    /// mistaken for one of this process.
    prefix: u64,
    next: u64,
    jobs: VecDeque<Job>,
}

/// A submission refused: too many jobs queued or running.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

impl Default for Jobs {
    fn default() -> Self {
        let prefix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Jobs {
            inner: Mutex::new(Inner {
                prefix,
                next: 1,
                jobs: VecDeque::new(),
            }),
            queued: Notify::new(),
        }
    }
}

impl Jobs {
    /// Queues `spec`; its id.
    pub fn submit(&self, spec: Spec) -> Result<String, Busy> {
        let id = {
            let mut inner = self.inner.lock();
            if inner.jobs.iter().filter(|j| j.state.active()).count() >= MAX_ACTIVE {
                return Err(Busy);
            }
            let id = format!("{}-{}", inner.prefix, inner.next);
            inner.next += 1;
            inner.jobs.push_back(Job {
                id: id.clone(),
                spec,
                state: State::Queued,
                submitted: SystemTime::now(),
                started: None,
                finished: None,
                counts: Counts::default(),
                error: None,
            });
            while inner.jobs.len() > MAX_JOBS {
                let Some(i) = inner.jobs.iter().position(|j| !j.state.active()) else {
                    break;
                };
                inner.jobs.remove(i);
            }
            id
        };
        self.queued.notify_one();
        Ok(id)
    }

    /// The oldest queued job, now running.
    pub fn start_next(&self) -> Option<(String, Spec)> {
        let mut inner = self.inner.lock();
        let job = inner.jobs.iter_mut().find(|j| j.state == State::Queued)?;
        job.state = State::Running;
        job.started.get_or_insert_with(SystemTime::now);
        Some((job.id.clone(), job.spec.clone()))
    }

    /// Waits for a queued job and starts it.
    pub async fn next(&self) -> (String, Spec) {
        loop {
            let wake = self.queued.notified();
            if let Some(job) = self.start_next() {
                return job;
            }
            wake.await;
        }
    }

    /// Changes the counts of job `id`.
    pub fn count(&self, id: &str, change: impl FnOnce(&mut Counts)) {
        if let Some(job) = self.inner.lock().jobs.iter_mut().find(|j| j.id == id) {
            change(&mut job.counts);
        }
    }

    /// Ends job `id`: done, or failed with `error` (no field values: error texts are redacted).
    pub fn finish(&self, id: &str, error: Option<String>) {
        if let Some(job) = self.inner.lock().jobs.iter_mut().find(|j| j.id == id) {
            job.state = if error.is_some() {
                State::Failed
            } else {
                State::Done
            };
            job.finished = Some(SystemTime::now());
            job.error = error;
        }
    }

    /// Puts a running job cut short by the end of a tail back at the head of the queue: the
    /// next tail repairs it again from the start (its counts start over).
    pub fn requeue(&self, id: &str) {
        if let Some(job) = self.inner.lock().jobs.iter_mut().find(|j| j.id == id) {
            job.state = State::Queued;
            job.counts = Counts::default();
        }
        self.queued.notify_one();
    }

    /// `GET /api/v1/jobs/{id}`.
    pub fn to_json(&self, id: &str) -> Option<Value> {
        let inner = self.inner.lock();
        let job = inner.jobs.iter().find(|j| j.id == id)?;
        let time = |t: Option<SystemTime>| t.map_or(Value::Null, crate::ops::status::rfc3339_of);
        let mut v = json!({
            "id": job.id,
            "kind": if job.spec.ids.is_some() { "resync_ids" } else { "resync_collection" },
            "collection": job.spec.collection,
            "state": job.state.as_str(),
            "submitted": crate::ops::status::rfc3339_of(job.submitted),
            "started": time(job.started),
            "finished": time(job.finished),
            "counts": {
                "examined": job.counts.examined,
                "rewritten": job.counts.rewritten,
                "deleted": job.counts.deleted,
                "parked": job.counts.parked,
            },
        });
        if let Some(ids) = &job.spec.ids {
            v["ids"] = ids.len().into();
        }
        if let Some(e) = &job.error {
            v["error"] = e.clone().into();
        }
        Some(v)
    }

    /// Jobs by state, for `/api/v1/status` (`resync`).
    pub fn summary(&self) -> Value {
        let inner = self.inner.lock();
        let n = |s: State| inner.jobs.iter().filter(|j| j.state == s).count();
        json!({
            "queued": n(State::Queued),
            "running": n(State::Running),
            "done": n(State::Done),
            "failed": n(State::Failed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(c: &str) -> Spec {
        Spec {
            collection: c.into(),
            ids: None,
        }
    }

    #[test]
    fn jobs_run_in_submission_order_and_show_their_state_and_counts() {
        let jobs = Jobs::default();
        let a = jobs.submit(spec("a")).unwrap();
        let b = jobs.submit(spec("b")).unwrap();
        assert_ne!(a, b);
        assert_eq!(jobs.to_json(&a).unwrap()["state"], "queued");
        let (id, s) = jobs.start_next().unwrap();
        assert_eq!((id.as_str(), s.collection.as_str()), (a.as_str(), "a"));
        jobs.count(&a, |c| c.examined += 3);
        let v = jobs.to_json(&a).unwrap();
        assert_eq!(
            (v["state"].as_str(), v["counts"]["examined"].as_u64()),
            (Some("running"), Some(3))
        );
        assert!(v["started"].is_string() && v["finished"].is_null());
        jobs.finish(&a, Some("boom".into()));
        let v = jobs.to_json(&a).unwrap();
        assert_eq!(
            (v["state"].as_str(), v["error"].as_str()),
            (Some("failed"), Some("boom"))
        );
        assert_eq!(jobs.start_next().unwrap().0, b);
        jobs.count(&b, |c| c.rewritten += 1);
        jobs.requeue(&b);
        let v = jobs.to_json(&b).unwrap();
        assert_eq!(
            (v["state"].as_str(), v["counts"]["rewritten"].as_u64()),
            (Some("queued"), Some(0))
        );
        assert_eq!(jobs.start_next().unwrap().0, b, "a requeued job runs again");
        jobs.finish(&b, None);
        assert_eq!(jobs.to_json(&b).unwrap()["state"], "done");
        assert!(jobs.start_next().is_none());
        assert!(jobs.to_json("nope").is_none());
        assert_eq!(
            jobs.summary(),
            json!({"queued": 0, "running": 0, "done": 1, "failed": 1})
        );
    }

    #[test]
    fn at_most_max_active_wait_and_finished_jobs_make_room_oldest_first() {
        let jobs = Jobs::default();
        let ids: Vec<String> = (0..MAX_ACTIVE)
            .map(|_| jobs.submit(spec("a")).unwrap())
            .collect();
        assert_eq!(jobs.submit(spec("a")), Err(Busy));
        for _ in 0..MAX_ACTIVE {
            let (id, _) = jobs.start_next().unwrap();
            jobs.finish(&id, None);
        }
        let mut last = String::new();
        for _ in 0..MAX_JOBS {
            last = jobs.submit(spec("a")).unwrap();
            let (id, _) = jobs.start_next().unwrap();
            jobs.finish(&id, None);
        }
        assert!(
            jobs.to_json(&ids[0]).is_none(),
            "the oldest finished job was evicted"
        );
        assert!(jobs.to_json(&last).is_some());
        assert_eq!(jobs.inner.lock().jobs.len(), MAX_JOBS);
    }

    #[tokio::test]
    async fn next_waits_for_a_submission() {
        let jobs = std::sync::Arc::new(Jobs::default());
        let waiter = tokio::spawn({
            let jobs = jobs.clone();
            async move { jobs.next().await }
        });
        tokio::task::yield_now().await;
        let id = jobs.submit(spec("x")).unwrap();
        assert_eq!(waiter.await.unwrap().0, id);
    }
}
