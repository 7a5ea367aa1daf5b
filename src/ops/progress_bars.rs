//! Copy progress for people: bars on a terminal (indicatif), otherwise a plain line per
//! collection every few seconds (logs and CI stay readable).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ProgressBars {
    multi: Option<MultiProgress>,
}

impl ProgressBars {
    /// Bars when stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal() && !quiet;
        ProgressBars {
            multi: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn collection(&self, name: &str, total: u64, done: u64) -> CollectionBar {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(total.max(done)));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>20} [{bar:30}] {pos}/{len} docs {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(name.to_string());
            b.set_position(done);
            b
        });
        CollectionBar {
            name: name.to_string(),
            bar,
            total,
            done: Arc::new(AtomicU64::new(done)),
            last_line: Arc::new(parking_lot::Mutex::new(Instant::now())),
        }
    }
}

#[derive(Clone)]
pub struct CollectionBar {
    name: String,
    bar: Option<ProgressBar>,
    total: u64,
    done: Arc<AtomicU64>,
    last_line: Arc<parking_lot::Mutex<Instant>>,
}

impl CollectionBar {
    pub fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        match &self.bar {
            Some(b) => b.set_position(done),
            None => {
                let mut last = self.last_line.lock();
                if last.elapsed() >= Duration::from_secs(5) {
                    *last = Instant::now();
                    tracing::info!(collection = %self.name, copied = done, estimated_total = self.total, "copy progress");
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}
