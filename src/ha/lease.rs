//! The lease as this instance sees it: a pure state machine over the outcomes of lease
//! attempts and the monotonic clock, so the fencing rule is tested without a server or waiting.
//!
//! The server stamps the lease's expiry with its own clock when it applies a renewal, which is
//! after this instance sent it. Counting from the send instant ([`Machine::on_attempt`]'s
//! `sent`) therefore never overestimates what is left, and the instance stops applying
//! [`Timing::margin`] before the earliest moment the server could consider the lease expired.

use std::time::{Duration, Instant};

/// The lease's timings, all derived from `ha.lease_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub lease: Duration,
}

impl Timing {
    pub fn new(lease_seconds: u64) -> Timing {
        Timing {
            lease: Duration::from_secs(lease_seconds),
        }
    }

    /// The active renews, and a standby tries to acquire, every third of the lease: two
    /// renewals may fail before fencing.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// Time kept between fencing and the earliest expiry on the server: it covers a fence
    /// timer firing late on a loaded host, writes already on the wire, and clock-rate drift.
    pub fn margin(&self) -> Duration {
        self.lease / 4
    }

    /// How long after the send of its last successful renewal an active keeps applying.
    pub fn fence_after(&self) -> Duration {
        self.lease - self.margin()
    }
}

/// What one lease attempt found (the document after the conditional update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// This instance holds the lease.
    pub mine: bool,
    pub epoch: i64,
    pub holder: String,
    /// Another instance (this id) asked for the lease (`ha.prefer_local_primary`).
    pub handoff: Option<String>,
}

/// This instance's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Standby,
    /// Applying under `epoch`.
    Active {
        epoch: i64,
    },
}

/// A change of role the caller acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    None,
    BecameActive {
        epoch: i64,
    },
    /// Stop applying now: the lease may be lost, or is.
    Fenced {
        why: &'static str,
    },
    /// Stop applying, then hand the lease (`epoch`) to instance `to`, which asked for it.
    Yield {
        epoch: i64,
        to: String,
    },
}

/// The active term, when there is one.
#[derive(Debug, Clone, Copy)]
struct Term {
    epoch: i64,
    /// Send instant of the last renewal the server confirmed.
    renewed: Instant,
    /// When this term began: a handoff is honoured only after one lease (no flapping).
    since: Instant,
}

#[derive(Debug)]
pub struct Machine {
    timing: Timing,
    term: Option<Term>,
    /// The lease as last seen (for `/status`).
    pub last: Option<Observed>,
    /// After a [`Transition::Yield`], until then: the lease is being handed over, so this
    /// instance's own live lease does not make it active again.
    yielding_until: Option<Instant>,
}

impl Machine {
    pub fn new(timing: Timing) -> Machine {
        Machine {
            timing,
            term: None,
            last: None,
            yielding_until: None,
        }
    }

    pub fn role(&self) -> Role {
        match self.term {
            Some(t) => Role::Active { epoch: t.epoch },
            None => Role::Standby,
        }
    }

    /// When the active must stop applying, if active.
    pub fn deadline(&self) -> Option<Instant> {
        self.term.map(|t| t.renewed + self.timing.fence_after())
    }

    /// An attempt sent at `sent` answered `seen` (`None`: it failed or timed out) at `now`.
    pub fn on_attempt(
        &mut self,
        sent: Instant,
        seen: Option<Observed>,
        now: Instant,
    ) -> Transition {
        let Some(seen) = seen else {
            return self.on_tick(now);
        };
        self.last = Some(seen.clone());
        let fresh = now < sent + self.timing.fence_after();
        if !seen.mine || self.yielding_until.is_some_and(|u| now >= u) {
            self.yielding_until = None;
        }
        match self.term {
            Some(t) if seen.mine && seen.epoch == t.epoch => {
                if sent > t.renewed {
                    self.term = Some(Term { renewed: sent, ..t });
                }
                match seen.handoff {
                    Some(to) if now >= t.since + self.timing.lease => {
                        self.term = None;
                        // Two leases: the release, then the requester's next attempt.
                        self.yielding_until = Some(now + 2 * self.timing.lease);
                        Transition::Yield { epoch: t.epoch, to }
                    }
                    _ => self.on_tick(now),
                }
            }
            Some(_) => {
                self.term = None;
                Transition::Fenced {
                    why: if seen.mine {
                        "the lease expired and was taken again under a new epoch"
                    } else {
                        "another instance holds the lease"
                    },
                }
            }
            None if seen.mine && fresh && self.yielding_until.is_none() => {
                self.term = Some(Term {
                    epoch: seen.epoch,
                    renewed: sent,
                    since: now,
                });
                Transition::BecameActive { epoch: seen.epoch }
            }
            None => Transition::None,
        }
    }

    /// The clock alone: fenced once the deadline has passed without a renewal.
    pub fn on_tick(&mut self, now: Instant) -> Transition {
        match self.deadline() {
            Some(d) if now >= d => {
                self.term = None;
                Transition::Fenced {
                    why: "the lease could not be renewed in time",
                }
            }
            _ => Transition::None,
        }
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
