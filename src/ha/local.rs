//! What a standby watches besides the lease: the source (`up{source}`: could it take over?),
//! and with `ha.prefer_local_primary`, whether its own mongod is the primary.
//!
//! `ha.prefer_local_primary`: while standing by, ask this instance's own mongod (`ha.local_uri`,
//! one host, directly) whether it is the primary; once it has been for a whole lease, ask the
//! active to hand the lease over. The lease of one side and the wait on the other (the active
//! honours a request only after holding the lease for a lease) keep an election's flapping from
//! moving the active back and forth.

use super::lease::{Role, Timing};
use super::store::LeaseStore;
use crate::config::{redact_text, ConnectionString};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::ops::labels::Side;
use crate::ops::Reporter;
use bson::doc;
use mongodb::options::ClientOptions;
use mongodb::Client;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A client of the local mongod alone (no discovery of the rest of the set).
pub async fn client(uri: &ConnectionString) -> Result<Client> {
    let config = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "ha.local_uri",
            redact_text(&e.to_string()),
        )
    };
    let mut opts = ClientOptions::parse(uri.expose())
        .await
        .map_err(|e| config(&e))?;
    opts.hosts.truncate(1);
    opts.direct_connection = Some(true);
    opts.repl_set_name = None;
    opts.app_name
        .get_or_insert_with(|| "mongo-replicator".to_string());
    opts.server_selection_timeout = Some(Duration::from_secs(2));
    Client::with_options(opts).map_err(|e| config(&e))
}

/// Whether the local mongod says it is a replica set's writable primary.
async fn is_primary(local: &Client) -> bool {
    let hello = local.database("admin").run_command(doc! {"hello": 1}).await;
    hello.is_ok_and(|h| {
        h.get_bool("isWritablePrimary").unwrap_or(false) && h.contains_key("setName")
    })
}

/// Every third of a lease: tracks how long the local mongod has been primary, and while this
/// instance stands by and that has lasted a lease, (re)asks the holder for the lease.
pub async fn follow_primary(
    local: Client,
    store: Arc<LeaseStore>,
    rx: watch::Receiver<Role>,
    timing: Timing,
) {
    let mut primary_since: Option<Instant> = None;
    loop {
        if is_primary(&local).await {
            let since = *primary_since.get_or_insert_with(Instant::now);
            let standing_by = *rx.borrow() == Role::Standby;
            if standing_by && since.elapsed() >= timing.lease {
                if let Err(e) = store.request_handoff().await {
                    tracing::debug!(error = %e, "ha: could not ask for the lease");
                }
            }
        } else {
            primary_since = None;
        }
        tokio::time::sleep(timing.renew_every()).await;
    }
}

/// While standing by, pings the source every `every`, so `up{source}` says whether this
/// instance could take over (an active's tail reports it itself).
pub async fn probe_source(
    source: mongodb::Client,
    rx: watch::Receiver<Role>,
    every: Duration,
    reporter: Reporter,
) {
    loop {
        if *rx.borrow() == Role::Standby {
            let ok = crate::source::connect::ping(&source, Side::Source)
                .await
                .is_ok();
            reporter.set_up(Side::Source, ok);
        }
        tokio::time::sleep(every).await;
    }
}
