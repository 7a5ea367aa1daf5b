//! The headline figures from interleaved rounds. On 2 shared cores one ceiling run moved by up
//! to 2x between passes (the write ceiling 33k then 45k then 57k ops/s), so a figure that
//! divides two runs made minutes apart measured the machine more than the replicator. Each
//! round runs the read ceiling, the write ceiling, the bare client and the default catch-up
//! once, back to back, starting one step later than the round before (so no phase always
//! runs first after the drops); the figures are the medians over rounds, and the ratios
//! (`cpu_ratio_vs_bare`, `efficiency`) the medians of each round's own ratio.

use crate::backlog::{step, steps, Form};
use crate::{bare, replicator};
use mongo_replicator::config::Config;
use mongodb::change_stream::event::ResumeToken;
use mongodb::{Client, Database};

/// What one round measured.
pub struct Round {
    pub read_events_per_s: f64,
    pub write_ops_per_s: f64,
    pub bare_events_per_s: f64,
    pub bare_cpu_us: f64,
    pub tail: replicator::CatchUp,
    pub tail_cpu_us: f64,
}

impl Round {
    pub fn cpu_ratio(&self) -> f64 {
        self.tail_cpu_us / self.bare_cpu_us
    }

    /// The tail over the lower of the two ceilings measured in the same round.
    pub fn efficiency(&self) -> f64 {
        self.tail.events_per_s / self.read_events_per_s.min(self.write_ops_per_s)
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Read,
    Write,
    Bare,
    Tail,
}

const ORDER: [Phase; 4] = [Phase::Read, Phase::Write, Phase::Bare, Phase::Tail];

/// Round `index` over the whole backlog (`rounds` steps, `total` events from `token`); `cfg`'s
/// checkpoint was primed before the backlog.
pub async fn run(
    index: usize,
    source: &Database,
    dst_client: &Client,
    (token, rounds, total): (&ResumeToken, usize, usize),
    cfg: &Config,
) -> Round {
    let (mut read, mut write, mut bare_run, mut tail) = (0.0, 0.0, (0.0, 0.0), None);
    for k in 0..ORDER.len() {
        match ORDER[(index + k) % ORDER.len()] {
            Phase::Read => read = bare::read_ceiling(source, token.clone(), total).await,
            Phase::Write => {
                let target = dst_client.database("dst_bare");
                let commands = steps(0..rounds).flat_map(|(r, c)| step(r, c, Form::Target));
                write = bare::write_ceiling(&target, commands).await;
                target.drop().await.unwrap();
            }
            Phase::Bare => {
                let target = dst_client.database("dst_pipe");
                bare_run = bare::pipeline(source, &target, token.clone(), total).await;
                target.drop().await.unwrap();
            }
            Phase::Tail => {
                tail = Some(replicator::catch_up(cfg, total as u64).await);
                dst_client
                    .database(&cfg.target.database)
                    .drop()
                    .await
                    .unwrap();
            }
        }
    }
    let tail = tail.expect("every round runs the catch-up");
    let per_event = |cpu_seconds: f64| cpu_seconds * 1e6 / total as f64;
    Round {
        read_events_per_s: read,
        write_ops_per_s: write,
        bare_events_per_s: bare_run.0,
        bare_cpu_us: per_event(bare_run.1),
        tail_cpu_us: per_event(tail.cpu_seconds),
        tail,
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "median of no values");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
