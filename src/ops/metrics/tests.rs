use super::*;
use crate::ops::labels::{Op, Side};

/// The value of the series `name{labels}` (labels written as in the exposition, `""` for none).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.rsplit_once(' ')
            .filter(|(s, _)| *s == series)
            .map(|(_, v)| v.parse().unwrap())
    })
}

fn series(name: &str, label: &str, v: &str) -> String {
    format!("{name}{{{label}=\"{v}\"}}")
}

#[test]
fn first_render_shows_every_series_at_its_initial_value() {
    let text = Metrics::new().render();
    for op in Op::ALL.map(Op::as_str) {
        assert_eq!(
            value(&text, &series(names::EVENTS_APPLIED_TOTAL, "op", op)),
            Some(0.0),
            "op {op}"
        );
    }
    for kind in ERROR_KINDS {
        assert_eq!(
            value(&text, &series(names::ERRORS_TOTAL, "kind", kind)),
            Some(0.0),
            "kind {kind}"
        );
    }
    for side in Side::ALL.map(Side::as_str) {
        assert_eq!(
            value(&text, &series(names::UP, "side", side)),
            Some(0.0),
            "side {side}"
        );
    }
    for (name, initial) in [
        (names::EVENTS_RECEIVED_TOTAL, 0.0),
        (names::LAG_SECONDS, 0.0),
        (names::CHECKPOINT_AGE_SECONDS, 0.0),
        (names::RETRIES_TOTAL, 0.0),
        (names::STALLED, 0.0),
        (names::STREAM_OPEN, 0.0),
    ] {
        assert_eq!(value(&text, name), Some(initial), "{name}");
    }
    for hist in [names::APPLY_BATCH_SECONDS, names::APPLY_BATCH_SIZE] {
        assert_eq!(value(&text, &format!("{hist}_count")), Some(0.0), "{hist}");
        assert_eq!(
            value(&text, &format!("{hist}_bucket{{le=\"+Inf\"}}")),
            Some(0.0),
            "{hist}"
        );
    }
    assert_eq!(
        value(
            &text,
            &format!("{}_bucket{{le=\"10000\"}}", names::APPLY_BATCH_SIZE)
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            &series(names::BUILD_INFO, "version", env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &series(names::PHASE, "phase", "starting")),
        Some(1.0)
    );
    for phase in Phase::ALL[1..].iter().map(|p| p.as_str()) {
        assert_eq!(
            value(&text, &series(names::PHASE, "phase", phase)),
            Some(0.0),
            "phase {phase}"
        );
    }
}

#[test]
fn every_rendered_name_carries_the_prefix_and_help() {
    let text = Metrics::new().render();
    let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
    let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    // 30 families: copy_documents_total has no series until a collection is named.
    assert_eq!(
        helps, 30,
        "one HELP per metric family:
{text}"
    );
    assert_eq!(types, helps);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with(names::PREFIX), "{line}");
    }
}

#[test]
fn counters_move_by_the_amounts_given() {
    let m = Metrics::new();
    m.events_received(7);
    m.events_received(3);
    m.batch_applied(&[(Op::Insert, 4), (Op::Delete, 2)], 6, 0.02);
    m.batch_applied(&[(Op::Insert, 1)], 1, 0.5);
    m.copy_documents("orders", 1000);
    m.copy_documents("orders", 234);
    m.error("target");
    m.error("target");
    m.error("history_lost");
    m.retry();
    m.retry();
    m.retry();
    let text = m.render();
    assert_eq!(value(&text, names::EVENTS_RECEIVED_TOTAL), Some(10.0));
    assert_eq!(
        value(&text, &series(names::EVENTS_APPLIED_TOTAL, "op", "insert")),
        Some(5.0)
    );
    assert_eq!(
        value(&text, &series(names::EVENTS_APPLIED_TOTAL, "op", "delete")),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &series(names::EVENTS_APPLIED_TOTAL, "op", "update")),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            &series(names::COPY_DOCUMENTS_TOTAL, "collection", "orders")
        ),
        Some(1234.0)
    );
    assert_eq!(
        value(&text, &series(names::ERRORS_TOTAL, "kind", "target")),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &series(names::ERRORS_TOTAL, "kind", "history_lost")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &series(names::ERRORS_TOTAL, "kind", "source")),
        Some(0.0)
    );
    assert_eq!(value(&text, names::RETRIES_TOTAL), Some(3.0));
    // Two batches: sizes 6 and 1, durations 0.02 s and 0.5 s.
    assert_eq!(
        value(&text, &format!("{}_count", names::APPLY_BATCH_SIZE)),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &format!("{}_sum", names::APPLY_BATCH_SIZE)),
        Some(7.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("{}_bucket{{le=\"5\"}}", names::APPLY_BATCH_SIZE)
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &format!("{}_count", names::APPLY_BATCH_SECONDS)),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &format!("{}_sum", names::APPLY_BATCH_SECONDS)),
        Some(0.52)
    );
    assert_eq!(
        value(
            &text,
            &format!("{}_bucket{{le=\"0.025\"}}", names::APPLY_BATCH_SECONDS)
        ),
        Some(1.0)
    );
}

#[test]
fn gauges_hold_the_last_value_set() {
    let m = Metrics::new();
    m.set_lag_seconds(12.5);
    m.set_checkpoint_age_seconds(3.0);
    m.set_checkpoint_age_seconds(-1.0);
    m.set_up(Side::Source, true);
    m.set_stalled(true);
    m.set_stream_open(true);
    m.set_phase(Phase::Tailing);
    let text = m.render();
    assert_eq!(value(&text, names::LAG_SECONDS), Some(12.5));
    assert_eq!(
        value(&text, names::CHECKPOINT_AGE_SECONDS),
        Some(0.0),
        "negative ages clamp to 0"
    );
    assert_eq!(
        value(&text, &series(names::UP, "side", "source")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &series(names::UP, "side", "target")),
        Some(0.0)
    );
    assert_eq!(value(&text, names::STALLED), Some(1.0));
    assert_eq!(value(&text, names::STREAM_OPEN), Some(1.0));
    assert_eq!(
        value(&text, &series(names::PHASE, "phase", "tailing")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &series(names::PHASE, "phase", "starting")),
        Some(0.0)
    );
    m.set_up(Side::Source, false);
    m.set_stalled(false);
    let text = m.render();
    assert_eq!(
        value(&text, &series(names::UP, "side", "source")),
        Some(0.0)
    );
    assert_eq!(value(&text, names::STALLED), Some(0.0));
}

#[test]
fn copy_collection_shows_at_zero_once_registered() {
    let m = Metrics::new();
    assert!(
        !m.render()
            .contains(&format!("{}{{collection=", names::COPY_DOCUMENTS_TOTAL)),
        "no collection is known before the copy names it"
    );
    m.init_copy_collection("customers");
    assert_eq!(
        value(
            &m.render(),
            &series(names::COPY_DOCUMENTS_TOTAL, "collection", "customers")
        ),
        Some(0.0)
    );
}

#[test]
fn two_instances_do_not_share_state() {
    let a = Metrics::new();
    let b = Metrics::new();
    a.retry();
    assert_eq!(value(&a.render(), names::RETRIES_TOTAL), Some(1.0));
    assert_eq!(value(&b.render(), names::RETRIES_TOTAL), Some(0.0));
}

/// docs/METRICS.md is the one catalogue: every family the replicator exposes has a row there,
/// and every label value of a pre-initialised label set is named in it.
#[test]
fn the_metric_catalogue_documents_every_family_and_label_value() {
    let catalogue = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/METRICS.md"));
    let m = Metrics::new();
    m.init_copy_collection("orders");
    let text = m.render();
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let family = line.split(' ').next().unwrap();
        let short = family.strip_prefix(names::PREFIX).unwrap();
        assert!(
            catalogue.contains(&format!("| `{short}")),
            "docs/METRICS.md has no row for {family}"
        );
    }
    for value in Op::ALL
        .map(Op::as_str)
        .into_iter()
        .chain(Side::ALL.map(Side::as_str))
        .chain(crate::ops::labels::ERROR_KINDS.iter().copied())
        .chain(Phase::ALL.map(Phase::as_str))
        .chain([crate::control::ALL])
        .chain(crate::control::RESULTS)
        .chain(super::DELIVERY_RESULTS)
        .chain(crate::control::ROUTES.map(|r| r.path))
    {
        assert!(
            catalogue.contains(&format!("`{value}`")),
            "docs/METRICS.md does not name the label value {value}"
        );
    }
}

/// `paused{collection}`: `all` from the first scrape, configured collections once registered,
/// and never a label nobody registered (the set stays bounded).
#[test]
fn paused_has_a_bounded_label_set_present_from_the_first_scrape() {
    let m = Metrics::new();
    assert_eq!(
        value(&m.render(), &series(names::PAUSED, "collection", "all")),
        Some(0.0)
    );
    m.init_paused(["orders"]);
    m.set_paused("orders", true);
    m.set_paused("unconfigured", true);
    let text = m.render();
    assert_eq!(
        value(&text, &series(names::PAUSED, "collection", "orders")),
        Some(1.0)
    );
    assert!(!text.contains("unconfigured"), "{text}");
    let route = format!(
        "{}{{result=\"ok\",route=\"/api/v1/pause\"}}",
        names::CONTROL_REQUESTS_TOTAL
    );
    assert_eq!(value(&text, &route), Some(0.0));
    m.control_request("/api/v1/pause", "ok");
    assert_eq!(value(&m.render(), &route), Some(1.0));
}
