//! Clients for both sides and the connected, checked pair ([`Sides`]). Connection strings are
//! used here and nowhere else; what is logged or reported names only hosts and databases.

use super::Endpoint;
use crate::config::redact_text;
use crate::config::ConnectionString;
use crate::config::{Config, WriteConcernSetting};
use crate::error::codes::{AUTHENTICATION_FAILED, UNAUTHORIZED};
use crate::error::{command_code, Class, Error, ErrorKind, Origin, Result};
use crate::ops::{Reporter, Side};
use crate::source::translate::ClusterTime;
use crate::state::SourceIdentity;
use bson::doc;
use mongodb::options::{
    Acknowledgment, ClientOptions, ReadPreference, SelectionCriteria, WriteConcern,
};
use mongodb::Client;
use std::sync::Arc;
use std::time::Duration;

/// Builds a client; a malformed URI is a configuration error naming `key`.
pub async fn client(uri: &ConnectionString, key: &str) -> Result<Client> {
    client_with(uri, key, |_| {}).await
}

/// The source client: every read goes to the primary whatever the URI's `readPreference` (a
/// lagging secondary would return a version older than an event already received, and the
/// event would count as applied without it); the copy, fetches and verify reads also state
/// read concern majority per operation.
pub async fn source_client(cfg: &Config) -> Result<Client> {
    client_with(&cfg.source.uri, "source.uri", |opts| {
        opts.selection_criteria = Some(primary());
    })
    .await
}

/// The target client: every write states `target.write_concern` whatever the URI's `w` (the
/// database handles and collections made from it inherit it; commands sent with `run_command`
/// take it from [`crate::apply::with_write_concern`]).
pub async fn target_client(cfg: &Config) -> Result<Client> {
    let wc = write_concern(&cfg.target.write_concern);
    client_with(&cfg.target.uri, "target.uri", |opts| {
        opts.write_concern = Some(wc);
    })
    .await
}

/// The driver's write concern for `target.write_concern`.
pub fn write_concern(setting: &WriteConcernSetting) -> WriteConcern {
    let w = match setting {
        WriteConcernSetting::Nodes(n) => Acknowledgment::Nodes(*n),
        WriteConcernSetting::Mode(m) if m == "majority" => Acknowledgment::Majority,
        WriteConcernSetting::Mode(m) => Acknowledgment::Custom(m.clone()),
    };
    WriteConcern::builder().w(w).build()
}

/// Reads of the source: from the primary (see [`source_client`]).
pub fn primary() -> SelectionCriteria {
    SelectionCriteria::ReadPreference(ReadPreference::Primary)
}

async fn client_with(
    uri: &ConnectionString,
    key: &str,
    adjust: impl FnOnce(&mut ClientOptions),
) -> Result<Client> {
    let mut opts = ClientOptions::parse(uri.expose()).await.map_err(|e| {
        Error::new(
            ErrorKind::Config,
            Class::Fatal,
            key,
            format!(
                "cannot parse the connection string: {}",
                redact_text(&e.to_string())
            ),
        )
    })?;
    opts.app_name
        .get_or_insert_with(|| "mongo-replicator".to_string());
    opts.server_selection_timeout
        .get_or_insert(Duration::from_secs(10));
    adjust(&mut opts);
    Client::with_options(opts).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            Class::Fatal,
            key,
            redact_text(&e.to_string()),
        )
    })
}

/// Pings a side; transient when unreachable.
pub async fn ping(client: &Client, side: Side) -> Result<()> {
    let side_name = side.as_str();
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .map(|_| ())
        .map_err(|e| {
            if is_auth_failure(&e) {
                Error::new(
                    ErrorKind::Config,
                    Class::Fatal,
                    format!("{side_name}.uri"),
                    format!("authentication failed on the {side_name}: check the user, password and authSource ({})", redact_text(&e.to_string())),
                )
            } else {
                Error::from_driver(side.into(), format!("connecting to the {side_name}"), &e)
            }
        })
}

/// Wrong credentials: a configuration problem no retry fixes.
fn is_auth_failure(e: &mongodb::error::Error) -> bool {
    matches!(
        e.kind.as_ref(),
        mongodb::error::ErrorKind::Authentication { .. }
    ) || command_code(e) == Some(AUTHENTICATION_FAILED)
}

/// Change streams need a replica set (or sharded cluster): refuse a standalone with a clear reason.
pub async fn require_replica_set(client: &Client) -> Result<()> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(|e| Error::from_driver(Origin::Source, "checking the source topology", &e))?;
    if hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid") {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "source.uri",
            "the source is a standalone server; change streams need a replica set (start mongod with --replSet and run rs.initiate())",
        ))
    }
}

/// Who the source is, for the checkpoint: a resume token means something only on the
/// deployment that issued it. A sharded source (mongos) has no replica set name nor id; a user
/// not allowed `replSetGetConfig` (`Unauthorized`) gets the name alone, with a warning.
pub async fn source_identity(client: &Client) -> Result<SourceIdentity> {
    let admin = client.database("admin");
    let hello = admin
        .run_command(doc! {"hello": 1})
        .await
        .map_err(|e| Error::from_driver(Origin::Source, "reading the source's identity", &e))?;
    let set_name = hello.get_str("setName").ok().map(str::to_string);
    if set_name.is_none() {
        return Ok(SourceIdentity::default());
    }
    let replica_set_id = match admin.run_command(doc! {"replSetGetConfig": 1}).await {
        Ok(reply) => reply
            .get_document("config")
            .and_then(|c| c.get_document("settings"))
            .and_then(|s| s.get_object_id("replicaSetId"))
            .ok(),
        Err(e) if command_code(&e) == Some(UNAUTHORIZED) => {
            tracing::warn!(
                "the source user may not run replSetGetConfig (needs clusterMonitor): the checkpoint records the replica set name only, so another set of the same name is not told apart"
            );
            None
        }
        Err(e) => {
            return Err(Error::from_driver(
                Origin::Source,
                "reading the source's replica set config",
                &e,
            ))
        }
    };
    Ok(SourceIdentity {
        set_name,
        replica_set_id,
    })
}

/// The source's current operation time: events at or before it may already be reflected in
/// documents the target got by reading the source (copy, fetch).
pub async fn operation_time(source: &Endpoint) -> Result<Option<ClusterTime>> {
    let db = source.home();
    let err = |e: mongodb::error::Error| {
        Error::from_driver(Origin::Source, "reading the source operation time", &e)
    };
    let mut session = db.client().start_session().await.map_err(err)?;
    db.run_command(doc! {"ping": 1})
        .session(&mut session)
        .await
        .map_err(err)?;
    Ok(session.operation_time().map(ClusterTime))
}

/// Both sides, connected and checked.
pub struct Sides {
    pub source_client: Client,
    pub target_client: Client,
    pub source: Endpoint,
    pub target: Endpoint,
}

impl Sides {
    pub async fn connect(cfg: &Config, reporter: &Reporter) -> Result<Sides> {
        let source_client = source_client(cfg).await?;
        let target_client = target_client(cfg).await?;
        for (client, side) in [
            (&source_client, Side::Source),
            (&target_client, Side::Target),
        ] {
            let name = side.as_str();
            reporter
                .retry(&format!("connecting to the {name}"), || ping(client, side))
                .await?;
            reporter.set_up(side, true);
        }
        // A network error here (the source went away after the ping) is waited out like any
        // other; only a source that really is no replica set stops.
        reporter
            .retry("checking the source topology", || {
                require_replica_set(&source_client)
            })
            .await?;
        let scope = Arc::new(cfg.scope()?);
        Ok(Sides {
            source: Endpoint::new(source_client.clone(), scope.clone(), Side::Source),
            target: Endpoint::new(target_client.clone(), scope, Side::Target),
            source_client,
            target_client,
        })
    }
}
