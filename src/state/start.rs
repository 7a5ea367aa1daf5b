//! Where a job starts, from the stored checkpoint and `copy.mode`. Pure: no I/O.
//!
//! `run` (first matching row wins):
//!
//! | stored checkpoint          | `copy.mode` | checkpoint | copy | replay           | resync        |
//! |----------------------------|-------------|------------|------|------------------|---------------|
//! | unfinished copy            | any         | stored     | yes  | yes              | stored flag   |
//! | any other                  | `always`    | fresh      | yes  | yes              | no            |
//! | with a resume token        | `auto`/`never` | stored  | no   | unless `clean`   | no            |
//! | none, or no token          | `never`     | fresh      | no   | yes              | no            |
//! | none, or no token          | `auto`      | fresh      | yes  | yes              | no            |
//!
//! A fresh checkpoint without a copy has no token: the tail starts from now. After a copy the
//! tail always replays (the copy read a moving source), so `replay` is set whenever `copy` is.
//!
//! `copy` always copies: it resumes an unfinished copy unless `copy.mode = "always"`, and
//! otherwise starts over. It reports the copy phase even when it finishes a resync (the stored
//! flag still prunes what the source no longer has), so `resync` is never set for it.

use crate::config::CopyMode;
use crate::state::Checkpoint;

/// Which command is starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Run,
    Copy,
}

/// How a job starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The state the checkpointer starts from.
    pub checkpoint: Checkpoint,
    /// Copy (or resume the copy) before tailing.
    pub copy: bool,
    /// The target may be ahead of the checkpoint: the tail must tolerate replayed events.
    pub replay: bool,
    /// The copy is a resync over an existing target.
    pub resync: bool,
}

/// The start of `job` for the `existing` checkpoint and `mode` (the table in the module doc).
pub fn decide(existing: Option<Checkpoint>, mode: CopyMode, job: Job) -> Start {
    let copy_from = |checkpoint: Checkpoint, resync: bool| Start {
        checkpoint,
        copy: true,
        replay: true,
        resync,
    };
    match job {
        Job::Copy => match existing {
            Some(cp) if cp.copying && mode != CopyMode::Always => copy_from(cp, false),
            _ => copy_from(Checkpoint::default(), false),
        },
        Job::Run => match (existing, mode) {
            (Some(cp), _) if cp.copying => {
                let resync = cp.resync;
                copy_from(cp, resync)
            }
            (Some(_), CopyMode::Always) => copy_from(Checkpoint::default(), false),
            (Some(cp), _) if cp.resume_token.is_some() => Start {
                // After a graceful stop the target is exactly at the checkpoint.
                replay: !cp.clean,
                checkpoint: cp,
                copy: false,
                resync: false,
            },
            (_, CopyMode::Never) => Start {
                checkpoint: Checkpoint::default(),
                copy: false,
                replay: true,
                resync: false,
            },
            _ => copy_from(Checkpoint::default(), false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use CopyMode::{Always, Auto, Never};

    const MODES: [CopyMode; 3] = [Auto, Always, Never];

    fn tailing(clean: bool) -> Checkpoint {
        Checkpoint {
            resume_token: Some(doc! {"_data": "tail"}),
            clean,
            ..Default::default()
        }
    }

    fn copying(resync: bool) -> Checkpoint {
        Checkpoint {
            resume_token: Some(doc! {"_data": "start"}),
            copying: true,
            resync,
            ..Default::default()
        }
    }

    /// `(checkpoint, copy, replay, resync)` of a start, for one-line assertions.
    fn row(s: Start) -> (Checkpoint, bool, bool, bool) {
        (s.checkpoint, s.copy, s.replay, s.resync)
    }

    fn fresh() -> Checkpoint {
        Checkpoint::default()
    }

    #[test]
    fn run_resumes_an_unfinished_copy_in_every_mode() {
        for mode in MODES {
            for resync in [false, true] {
                let cp = copying(resync);
                assert_eq!(
                    row(decide(Some(cp.clone()), mode, Job::Run)),
                    (cp, true, true, resync),
                    "{mode:?}, resync {resync}"
                );
            }
        }
    }

    #[test]
    fn run_with_always_copies_again_over_a_finished_checkpoint() {
        for existing in [tailing(true), tailing(false), fresh()] {
            assert_eq!(
                row(decide(Some(existing), Always, Job::Run)),
                (fresh(), true, true, false)
            );
        }
    }

    #[test]
    fn run_tails_from_a_stored_token_replaying_unless_the_last_stop_was_clean() {
        for mode in [Auto, Never] {
            assert_eq!(
                row(decide(Some(tailing(true)), mode, Job::Run)),
                (tailing(true), false, false, false),
                "{mode:?}"
            );
            assert_eq!(
                row(decide(Some(tailing(false)), mode, Job::Run)),
                (tailing(false), false, true, false),
                "{mode:?}"
            );
        }
    }

    #[test]
    fn run_with_never_and_no_token_tails_from_now() {
        for existing in [None, Some(fresh())] {
            let s = decide(existing, Never, Job::Run);
            assert_eq!(s.checkpoint.resume_token, None, "no token: from now");
            assert_eq!(row(s), (fresh(), false, true, false));
        }
    }

    #[test]
    fn run_with_auto_and_no_token_copies() {
        for existing in [None, Some(fresh())] {
            assert_eq!(
                row(decide(existing, Auto, Job::Run)),
                (fresh(), true, true, false)
            );
        }
        assert_eq!(
            row(decide(None, Always, Job::Run)),
            (fresh(), true, true, false)
        );
    }

    #[test]
    fn copy_resumes_an_unfinished_copy_unless_always() {
        for mode in [Auto, Never] {
            let cp = copying(true);
            assert_eq!(
                row(decide(Some(cp.clone()), mode, Job::Copy)),
                (cp, true, true, false),
                "{mode:?}"
            );
        }
        assert_eq!(
            row(decide(Some(copying(false)), Always, Job::Copy)),
            (fresh(), true, true, false)
        );
    }

    #[test]
    fn copy_starts_over_without_an_unfinished_copy_in_every_mode() {
        for mode in MODES {
            for existing in [None, Some(fresh()), Some(tailing(true))] {
                assert_eq!(
                    row(decide(existing, mode, Job::Copy)),
                    (fresh(), true, true, false),
                    "{mode:?}"
                );
            }
        }
    }
}
