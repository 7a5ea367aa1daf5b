use super::*;
use crate::error::Origin;
use backon::BackoffBuilder;

fn error(kind: ErrorKind, class: Class) -> Error {
    Error::new(kind, class, "c", "m").at(Origin::Target)
}

#[test]
fn transient_errors_back_off_and_fatal_ones_stop() {
    for kind in ErrorKind::ALL {
        let expected = match kind {
            ErrorKind::DuplicateKey => Decision::SlowRetry,
            ErrorKind::Cancelled => Decision::Stop,
            _ => Decision::Backoff,
        };
        assert_eq!(decide(&error(kind, Class::Transient)), expected, "{kind:?}");
        let fatal = match kind {
            ErrorKind::DuplicateKey => Decision::SlowRetry,
            _ => Decision::Stop,
        };
        assert_eq!(decide(&error(kind, Class::Fatal)), fatal, "{kind:?}");
    }
}

#[test]
fn driver_errors_decide_by_what_they_carry() {
    let io = mongodb::error::Error::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset",
    ));
    let network = Error::from_driver(Origin::Source, "tail", &io);
    assert_eq!(decide(&network), Decision::Backoff);
    let we: mongodb::error::WriteError =
        bson::from_document(bson::doc! { "code": 11000, "errmsg": "dup" }).unwrap();
    let dup = mongodb::error::Error::from(mongodb::error::ErrorKind::Write(
        mongodb::error::WriteFailure::WriteError(we),
    ));
    let dup = Error::from_driver(Origin::Target, "apply", &dup);
    assert_eq!(decide(&dup), Decision::SlowRetry);
}

#[test]
fn cancellation_stops_every_loop_and_is_recognised_by_kind() {
    let e = cancelled("applying an op");
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(is_cancelled(&e));
    assert_eq!(decide(&e), Decision::Stop);
    assert_eq!(e.metric_kind(), "internal");
    assert_eq!(e.to_string(), "applying an op: cancelled: shutting down");
    // A message is no marker: only the kind is.
    let lookalike = Error::new(ErrorKind::Internal, Class::Transient, "x", "cancelled: no");
    assert!(!is_cancelled(&lookalike));
}

#[test]
fn backoff_starts_at_50ms_with_jitter_and_caps_at_5s_forever() {
    let waits: Vec<Duration> = backoff().build().take(200).collect();
    assert_eq!(waits.len(), 200, "no limit on attempts");
    let ms = Duration::from_millis;
    assert!(waits[0] >= ms(50) && waits[0] <= ms(100), "{:?}", waits[0]);
    assert!(waits[1] >= ms(100) && waits[1] <= ms(200), "{:?}", waits[1]);
    // Jitter adds up to the delay itself on top of the 5 s cap.
    assert!(waits.iter().all(|w| *w <= ms(10_000)));
    assert!(waits[199] >= ms(5_000));
}

#[test]
fn conflict_backoff_doubles_from_20ms_to_30s_without_jitter() {
    let waits: Vec<u128> = conflict_backoff()
        .take(100)
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(
        &waits[..12],
        &[20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 30000]
    );
    assert!(waits[12..].iter().all(|w| *w == 30_000));
    assert_eq!(waits.len(), 100, "no limit on attempts");
}
