use super::*;
use proptest::prelude::*;

const LEASE: u64 = 12;

fn seen(mine: bool, epoch: i64) -> Option<Observed> {
    Some(Observed {
        mine,
        epoch,
        holder: if mine { "me" } else { "other" }.into(),
        handoff: None,
    })
}

#[test]
fn timings_leave_two_renewals_and_a_margin_inside_the_lease() {
    let t = Timing::new(LEASE);
    assert_eq!(t.renew_every(), Duration::from_secs(4));
    assert_eq!(t.fence_after(), Duration::from_secs(9));
    assert!(t.renew_every() * 2 < t.fence_after());
    assert!(t.fence_after() < t.lease);
}

#[test]
fn an_active_without_renewals_is_fenced_at_lease_minus_margin_from_the_send() {
    let t = Timing::new(LEASE);
    let mut m = Machine::new(t);
    let t0 = Instant::now();
    let sec = Duration::from_secs(1);
    assert_eq!(
        m.on_attempt(t0, seen(true, 3), t0 + sec),
        Transition::BecameActive { epoch: 3 }
    );
    assert_eq!(
        m.on_attempt(t0 + 4 * sec, None, t0 + 5 * sec),
        Transition::None
    );
    assert_eq!(m.on_tick(t0 + t.fence_after() - sec), Transition::None);
    assert!(matches!(
        m.on_tick(t0 + t.fence_after()),
        Transition::Fenced { .. }
    ));
    assert_eq!(m.role(), Role::Standby);
}

#[test]
fn a_renewal_moves_the_deadline_and_a_late_reply_does_not_make_an_active() {
    let t = Timing::new(LEASE);
    let mut m = Machine::new(t);
    let t0 = Instant::now();
    let sec = Duration::from_secs(1);
    // The reply arrived after its send + fence_after: too late to act on.
    assert_eq!(
        m.on_attempt(t0, seen(true, 1), t0 + t.fence_after()),
        Transition::None
    );
    m.on_attempt(t0, seen(true, 1), t0 + sec);
    m.on_attempt(t0 + 4 * sec, seen(true, 1), t0 + 5 * sec);
    assert_eq!(m.deadline(), Some(t0 + 4 * sec + t.fence_after()));
}

#[test]
fn a_lease_held_by_another_or_under_a_new_epoch_fences_at_once() {
    let mut m = Machine::new(Timing::new(LEASE));
    let t0 = Instant::now();
    m.on_attempt(t0, seen(true, 1), t0);
    assert!(matches!(
        m.on_attempt(t0, seen(false, 2), t0),
        Transition::Fenced { .. }
    ));
    m.on_attempt(t0, seen(true, 3), t0);
    assert!(matches!(
        m.on_attempt(t0, seen(true, 4), t0),
        Transition::Fenced { .. }
    ));
    assert_eq!(m.role(), Role::Standby);
}

proptest! {
    /// Whatever the attempts answer and however late: an active never outlives the send of its
    /// last confirmed renewal by `fence_after`, and it is active only under an epoch the
    /// server said is this instance's.
    #[test]
    fn never_active_past_the_fence(steps in proptest::collection::vec((0u64..6000, 0u64..6000, 0u8..4, 0i64..4), 1..60)) {
        let t = Timing::new(LEASE);
        let mut m = Machine::new(t);
        let t0 = Instant::now();
        let mut now = t0;
        let mut confirmed: Option<(i64, Instant)> = None;
        for (gap, delay, kind, epoch) in steps {
            now += Duration::from_millis(gap);
            let sent = now;
            now += Duration::from_millis(delay);
            let answer = match kind { 0 => None, 1 => seen(false, epoch), _ => seen(true, epoch) };
            m.on_attempt(sent, answer.clone(), now);
            if let (Some(a), Role::Active { epoch: e }) = (&answer, m.role()) {
                if a.mine && a.epoch == e {
                    confirmed = Some((e, confirmed.filter(|c| c.0 == e).map_or(sent, |c| c.1.max(sent))));
                }
            }
            if let Role::Active { epoch } = m.role() {
                let (e, at) = confirmed.expect("active only after a confirmed attempt");
                prop_assert_eq!(e, epoch);
                prop_assert!(now < at + t.fence_after());
            }
        }
    }
}

#[test]
fn a_handoff_is_honoured_only_after_one_lease_and_the_yielded_lease_does_not_come_back() {
    let t = Timing::new(LEASE);
    let mut m = Machine::new(t);
    let t0 = Instant::now();
    let sec = Duration::from_secs(1);
    let asked = |epoch| {
        let mut s = seen(true, epoch).unwrap();
        s.handoff = Some("next-to-primary".into());
        Some(s)
    };
    m.on_attempt(t0, seen(true, 5), t0);
    assert_eq!(
        m.on_attempt(t0 + 4 * sec, asked(5), t0 + 4 * sec),
        Transition::None,
        "held less than a lease"
    );
    assert_eq!(m.role(), Role::Active { epoch: 5 });
    let at = t0 + t.lease;
    assert_eq!(
        m.on_attempt(at, asked(5), at),
        Transition::Yield {
            epoch: 5,
            to: "next-to-primary".into()
        }
    );
    assert_eq!(m.role(), Role::Standby);
    // Still ours on the server until released: not active again meanwhile.
    assert_eq!(
        m.on_attempt(at + sec, seen(true, 5), at + sec),
        Transition::None
    );
    assert_eq!(
        m.on_attempt(at + 2 * sec, seen(false, 6), at + 2 * sec),
        Transition::None
    );
    assert_eq!(
        m.on_attempt(at + 3 * sec, seen(true, 7), at + 3 * sec),
        Transition::BecameActive { epoch: 7 },
        "once the lease left, this instance may take it again"
    );
}
