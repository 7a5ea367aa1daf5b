//! Unit tests of the fail points: modes, data fields, labels.

use super::*;

fn configure(fp: &FailPoints, cmd: Document) {
    fp.configure(&cmd).unwrap();
}

#[test]
fn times_fires_n_times_then_turns_off() {
    let fp = FailPoints::default();
    configure(
        &fp,
        doc! {"configureFailPoint": "failCommand", "mode": {"times": 2}, "data": {"failCommands": ["insert"], "errorCode": 91, "errorLabels": ["X"]}},
    );
    assert!(fp.check("find", &doc! {}, None).is_none());
    let a = fp.check("insert", &doc! {}, None).unwrap();
    let e = a.error.unwrap();
    assert_eq!(
        (e.code, e.code_name.as_str(), e.labels.clone()),
        (91, "ShutdownInProgress", vec!["X".to_string()])
    );
    assert!(fp.check("insert", &doc! {}, None).is_some());
    assert!(fp.check("insert", &doc! {}, None).is_none());
}

#[test]
fn skip_lets_the_first_through() {
    let fp = FailPoints::default();
    configure(
        &fp,
        doc! {"configureFailPoint": "failCommand", "mode": {"skip": 1}, "data": {"failCommands": ["find"], "closeConnection": true}},
    );
    assert!(fp.check("find", &doc! {}, None).is_none());
    assert!(fp.check("find", &doc! {}, None).unwrap().close_connection);
    assert!(fp.check("find", &doc! {}, None).unwrap().close_connection);
    configure(
        &fp,
        doc! {"configureFailPoint": "failCommand", "mode": "off"},
    );
    assert!(fp.check("find", &doc! {}, None).is_none());
}

#[test]
fn app_name_block_and_retryable_label() {
    let fp = FailPoints::default();
    configure(
        &fp,
        doc! {"configureFailPoint": "failCommand", "mode": "alwaysOn", "data": {
        "failCommands": ["insert"], "errorCode": 10107, "appName": "app", "blockConnection": true, "blockTimeMS": 50}},
    );
    assert!(fp.check("insert", &doc! {}, Some("other")).is_none());
    assert!(fp.check("insert", &doc! {}, None).is_none());
    let a = fp
        .check("insert", &doc! {"txnNumber": 1i64}, Some("app"))
        .unwrap();
    assert_eq!(a.block, Some(Duration::from_millis(50)));
    assert_eq!(
        a.error.unwrap().labels,
        vec!["RetryableWriteError".to_string()]
    );
    let a = fp.check("insert", &doc! {}, Some("app")).unwrap();
    assert!(
        a.error.unwrap().labels.is_empty(),
        "no label without txnNumber"
    );
}

#[test]
fn get_more_after_checkout_fires_times_with_code() {
    let fp = FailPoints::default();
    configure(
        &fp,
        doc! {"configureFailPoint": "failGetMoreAfterCursorCheckout", "mode": {"times": 1}, "data": {"errorCode": 150}},
    );
    assert!(
        fp.check("getMore", &doc! {}, None).is_none(),
        "not failCommand"
    );
    let e = fp.check_get_more().unwrap();
    assert_eq!((e.code, e.code_name.as_str()), (150, "StaleEpoch"));
    assert!(e.labels.is_empty());
    assert!(fp.check_get_more().is_none(), "times: 1 fires once");
    configure(
        &fp,
        doc! {"configureFailPoint": "failGetMoreAfterCursorCheckout", "mode": "alwaysOn"},
    );
    assert_eq!(fp.check_get_more().unwrap().code, 1);
    configure(
        &fp,
        doc! {"configureFailPoint": "failGetMoreAfterCursorCheckout", "mode": "off"},
    );
    assert!(fp.check_get_more().is_none());
}

#[test]
fn bad_configurations_are_rejected() {
    let fp = FailPoints::default();
    assert!(fp
        .configure(&doc! {"configureFailPoint": "nope", "mode": "alwaysOn"})
        .is_err());
    assert!(fp
        .configure(&doc! {"configureFailPoint": "failCommand", "mode": "sometimes"})
        .is_err());
    assert!(fp
        .configure(&doc! {"configureFailPoint": "failCommand", "mode": "alwaysOn", "data": {}})
        .is_err());
}
