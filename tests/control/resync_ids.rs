//! A resync of listed `_id`s through the CLI while traffic runs: exactly the listed documents
//! damaged on the backup heal (deleted, modified, extras, string and number `_id`s), an
//! unlisted damaged one stays as it is until a collection resync.

use super::resync::{damage, find, ints, resync_cli, setup, Traffic, TRAFFIC_IDS, WAIT};
use crate::support::{converge, wait_until};
use bson::Bson;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_of_listed_ids_through_the_cli_heals_exactly_those_under_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("resync_ids", dir.path(), TRAFFIC_IDS).await;
    let (dep, cfg, p, source, backup) = (&s.dep, &s.cfg, &s.p, &s.source, &s.backup);
    let traffic = Traffic::start(source.clone());
    let gone = ints([1, 2, 101]);
    let changed = vec![
        Bson::Int32(3),
        Bson::Int32(102),
        Bson::String("user-1".into()),
    ];
    let extra = vec![Bson::Int32(5000), Bson::String("x-extra".into())];
    damage(backup, &gone, &changed, &extra).await;
    // Damaged too, but not listed: stays damaged.
    damage(backup, &[], &ints([50]), &[]).await;

    let mut args = vec!["--collection", "orders", "--wait", "--json"];
    for id in [
        "1",
        r#"{"$numberInt": "2"}"#,
        "101",
        "3",
        "102",
        "user-1",
        "5000",
        "x-extra",
        "7",
    ] {
        args.extend(["--id", id]);
    }
    let (code, out, err) = resync_cli(p, &args).await;
    assert_eq!(code, 0, "{out}{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("--json prints the job");
    assert_eq!(
        (shown["state"].as_str(), shown["kind"].as_str()),
        (Some("done"), Some("resync_ids")),
        "{shown}"
    );
    assert_eq!(shown["counts"]["examined"], 9, "{shown}");
    assert_eq!(shown["counts"]["deleted"], 2, "the two extras: {shown}");
    assert!(
        shown["counts"]["rewritten"].as_u64().unwrap() >= 4,
        "1, 2, 3 and user-1 at least: {shown}"
    );

    let ops = traffic.stop().await;
    assert!(ops > 0);
    // The listed documents heal (the traffic's last changes arrive through the tail).
    for id in gone.iter().chain(&changed).chain(&extra) {
        let want = find(source, id).await;
        wait_until(&format!("{id} healed"), WAIT, || async {
            find(backup, id).await == want
        })
        .await;
    }
    assert_eq!(
        find(backup, &Bson::Int32(50))
            .await
            .unwrap()
            .get_bool("damaged"),
        Ok(true),
        "not listed, not repaired"
    );

    // Without --wait the CLI prints the queued job; the whole collection heals the rest.
    let (code, out, err) = resync_cli(p, &["--collection", "orders"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("job") && out.contains("queued"), "{out}");
    converge(dep, cfg, WAIT).await;
}
