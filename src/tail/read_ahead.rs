//! Read-ahead: a task owning the change stream has the next `getMore` in flight while the
//! watcher translates and routes the events before it. Events are handed over one driver
//! batch at a time (one message per `getMore`, not per event: a hop per event would cost what
//! batching the writers' sends saved). An event carries no stream token: its own `_id` is its
//! resume token (copying the stream's after every event cost an allocation per event); an
//! empty `getMore`, a failure and a closed cursor carry the stream's token then, so the watcher
//! resumes, reopens and registers idle tokens as when it read the stream itself. Bounded: at
//! most [`AHEAD`] batches wait (a paused or held watcher stops the reading a few batches later,
//! as back-pressure).

use bson::RawDocumentBuf;
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use std::collections::VecDeque;
use std::task::Poll;
use tokio::sync::mpsc;

/// Driver batches read ahead of the watcher, at most.
pub const AHEAD: usize = 2;

/// What the watcher gets next, in stream order.
pub enum Next {
    /// An event (its `_id` is its resume token).
    Event(RawDocumentBuf),
    /// A `getMore` came back empty; the stream's token then (its `postBatchResumeToken`).
    Idle(Option<ResumeToken>),
    /// Reading failed; the stream's token then. The reader has stopped.
    Failed(mongodb::error::Error, Option<ResumeToken>),
    /// The server closed the cursor; the stream's token then. The reader has stopped.
    Closed(Option<ResumeToken>),
}

/// The watcher's end: the events received and not taken yet, and the reader task.
pub struct ReadAhead {
    rx: mpsc::Receiver<Vec<Next>>,
    current: VecDeque<Next>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    /// Starts reading `stream` ahead.
    pub fn start(stream: ChangeStream<RawDocumentBuf>, max_events: usize) -> ReadAhead {
        let (tx, rx) = mpsc::channel(AHEAD);
        let task = tokio::spawn(read(stream, tx, max_events.max(1)));
        ReadAhead {
            rx,
            current: VecDeque::new(),
            task,
        }
    }

    /// The next item if one was read already (no waiting).
    pub fn ready(&mut self) -> Option<Next> {
        if self.current.is_empty() {
            self.current = self.rx.try_recv().ok()?.into();
        }
        self.current.pop_front()
    }

    /// Waits for the next item (`None`: the reader is gone, which it never is before it sent
    /// its last `Failed` or `Closed`).
    pub async fn next(&mut self) -> Option<Next> {
        while self.current.is_empty() {
            self.current = self.rx.recv().await?.into();
        }
        self.current.pop_front()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Reopened or stopped: the stream (and its server cursor) goes with the task.
        self.task.abort();
    }
}

/// Reads until the stream fails or closes, or the watcher drops its end. A batch is sent when
/// the driver's buffer is drained (its next read would wait for the server), so the `getMore`
/// is sent right after; `max_events` bounds one batch should reads keep coming back at once.
async fn read(
    mut stream: ChangeStream<RawDocumentBuf>,
    tx: mpsc::Sender<Vec<Next>>,
    max_events: usize,
) {
    let mut batch = Vec::new();
    loop {
        let next = {
            let read = stream.next_if_any();
            tokio::pin!(read);
            match futures::poll!(&mut read) {
                Poll::Ready(n) => n,
                Poll::Pending => {
                    if !batch.is_empty() && tx.send(std::mem::take(&mut batch)).await.is_err() {
                        return;
                    }
                    read.await
                }
            }
        };
        let last = match next {
            Ok(Some(event)) => {
                batch.push(Next::Event(event));
                false
            }
            Ok(None) => {
                batch.push(Next::Idle(stream.resume_token()));
                true
            }
            Err(e) => {
                batch.push(Next::Failed(e, stream.resume_token()));
                let _ = tx.send(batch).await;
                return;
            }
        };
        if !stream.is_alive() {
            batch.push(Next::Closed(stream.resume_token()));
            let _ = tx.send(batch).await;
            return;
        }
        if (last || batch.len() >= max_events) && tx.send(std::mem::take(&mut batch)).await.is_err()
        {
            return;
        }
    }
}
