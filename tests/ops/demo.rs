//! `mongo-replicator demo` through the binary: it starts its own testbed, copies seeded orders,
//! replicates live traffic, and reports an identical backup. It listens on a free port
//! (`--http-addr 127.0.0.1:0`), so it runs next to a replicator that holds the default port.

use crate::support::run_binary;

#[test]
fn demo_replicates_live_traffic_and_reports_an_identical_backup() {
    let (code, stdout, stderr) = run_binary(
        &["demo", "--seconds", "3", "--http-addr", "127.0.0.1:0"],
        &[("RUST_LOG", "warn")],
    );
    assert_eq!(
        code, 0,
        "demo failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("demo: the backup is identical to the source"),
        "the demo did not report an identical backup:\n{stdout}"
    );
    // The metrics line names the port it really bound (not `:0`).
    let served = stdout
        .lines()
        .find_map(|l| l.strip_prefix("demo: metrics at http://"))
        .and_then(|rest| rest.split_once('/'))
        .map(|(addr, _)| addr.to_string())
        .unwrap_or_else(|| panic!("no metrics address printed:\n{stdout}"));
    let addr: std::net::SocketAddr = served.parse().expect("host:port");
    assert_ne!(
        addr.port(),
        0,
        "the demo printed the unbound port:\n{stdout}"
    );
    // Live traffic was replicated, not only the seeded orders copied.
    let live: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("then replicated "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of replicated live events:\n{stdout}"));
    assert!(live > 0, "no live change event was replicated:\n{stdout}");
}
