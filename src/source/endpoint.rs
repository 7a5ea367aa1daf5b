//! One side's handle on the replicated collections: its client and the [`Scope`] that says
//! where each key lives on that side. Stages take an `Endpoint` instead of a `Database`, so a
//! key turns into the right database and collection name in one place for both sides (a
//! renamed target, several databases).

use crate::ops::Side;
use crate::source::namespaces::{Namespace, Scope};
use mongodb::{Client, Collection, Database};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Endpoint {
    client: Client,
    scope: Arc<Scope>,
    side: Side,
    /// Every key into this one database, named by key (a restore's destination).
    into: Option<String>,
    /// The side's own database: the one selected source database (`admin` when several are),
    /// or the default target database. Commands about no collection run there.
    home: Database,
}

impl Endpoint {
    pub fn new(client: Client, scope: Arc<Scope>, side: Side) -> Self {
        let home = match side {
            Side::Source => client.database(scope.single_database().unwrap_or("admin")),
            Side::Target => client.database(&scope.default_target_database()),
        };
        Self {
            client,
            scope,
            side,
            into: None,
            home,
        }
    }

    /// Every key into database `db` under the key as its name (`"db.coll"` with several source
    /// databases keeps them apart): a restore into a new database, or `--into-db`.
    pub fn into_database(client: Client, db: &str, scope: Arc<Scope>) -> Self {
        Self {
            home: client.database(db),
            client,
            scope,
            side: Side::Target,
            into: Some(db.to_string()),
        }
    }

    /// Both sides of one scope.
    pub fn pair(source: Client, target: Client, scope: Arc<Scope>) -> (Endpoint, Endpoint) {
        (
            Endpoint::new(source, scope.clone(), Side::Source),
            Endpoint::new(target, scope, Side::Target),
        )
    }

    /// `collections` (all when `None`) of one database into another under the same names:
    /// the shorthand, for the demo, each two-way sync direction and tools.
    pub fn between(
        source: &Database,
        target: &Database,
        collections: Option<&[String]>,
    ) -> (Endpoint, Endpoint) {
        let scope = Scope::shorthand(source.name(), collections, target.name());
        Self::pair(
            source.client().clone(),
            target.client().clone(),
            Arc::new(scope),
        )
    }

    /// Where `key` lives on this side.
    pub fn namespace(&self, key: &str) -> Namespace {
        if let Some(db) = &self.into {
            return Namespace::new(db, key);
        }
        match self.side {
            Side::Source => self.scope.source_of(key),
            Side::Target => self.scope.target_of(key),
        }
    }

    /// The database holding `key` on this side, and the collection's name there.
    pub fn locate(&self, key: &str) -> (Database, String) {
        let ns = self.namespace(key);
        let db = match ns.db == self.home.name() {
            true => self.home.clone(),
            false => self.client.database(&ns.db),
        };
        (db, ns.coll)
    }

    /// The collection of `key` on this side.
    pub fn collection<T: Send + Sync>(&self, key: &str) -> Collection<T> {
        let (db, coll) = self.locate(key);
        db.collection(&coll)
    }

    pub fn home(&self) -> &Database {
        &self.home
    }

    /// The home database's name, for logs and `/status`.
    pub fn name(&self) -> &str {
        self.home.name()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn scope(&self) -> &Arc<Scope> {
        &self.scope
    }
}
