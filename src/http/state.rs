//! The state every handler receives: the database (and its write gate), the direct read
//! pool (SQLite or PostgreSQL), the token keys, the password hasher and its bound, the
//! per-client limits, the settings and the metrics, and whether the server is draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{DatabaseConnection, DbErr};

use crate::config::Settings;
use crate::http::common::limits::ClientLimits;
use crate::jwt::JwtKeys;
use crate::metrics::Metrics;
use crate::service::auth::Passwords;
use crate::store::Writer;
use crate::store::read::Reader;
use crate::store::read::direct::DirectPool;
use crate::store::read::pg::PgReadPool;

/// Shared application state; a clone (axum makes several per request) is one reference
/// count.
#[derive(Clone)]
pub struct AppState(Arc<State>);

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct State {
    pub db: DatabaseConnection,
    /// The same connection, for services that write in a transaction.
    pub writer: Writer,
    pub jwt: Arc<JwtKeys>,
    /// Hashes and verifies passwords, at most `RELATA_MAX_CONCURRENT_HASHES` at once.
    pub passwords: Arc<Passwords>,
    /// Connections, registrations and logins per client address.
    pub limits: Arc<ClientLimits>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// Set once shutdown begins: the listener is closed and every answer says
    /// `Connection: close` (see `drain`).
    draining: Arc<AtomicBool>,
    /// Read connections of the direct executor, if this database has one.
    direct: Option<DirectReads>,
}

/// The direct read executor of the database (`store::read`).
#[derive(Clone)]
enum DirectReads {
    Sqlite(Arc<DirectPool>),
    Postgres(Arc<PgReadPool>),
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, jwt: JwtKeys, settings: Settings) -> Self {
        let direct = match crate::store::sqlite_file(&db) {
            Some(path) => Some(DirectReads::Sqlite(Arc::new(DirectPool::new(&path)))),
            None if crate::store::is_postgres(&db) => {
                PgReadPool::for_url(&settings.database_url, settings.max_connections)
                    .map(|pool| DirectReads::Postgres(Arc::new(pool)))
            }
            None => None,
        };
        AppState(Arc::new(State {
            writer: Writer::new(db.clone()),
            db,
            jwt: Arc::new(jwt),
            passwords: Arc::new(Passwords::new(settings.concurrent_hashes())),
            limits: Arc::new(ClientLimits::new(&settings)),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            draining: Arc::new(AtomicBool::new(false)),
            direct,
        }))
    }

    /// The same state reading through SeaORM (the tests compare the executors).
    pub fn without_direct_reads(&self) -> Self {
        AppState(Arc::new(State {
            direct: None,
            ..State::clone(&self.0)
        }))
    }
}

impl State {
    /// Whether this server is shutting down: it accepts no new connections and closes each
    /// one after its current answer. A readiness check should report "not ready" then.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Marks the server as draining (done once, when the shutdown signal arrives; tests
    /// call it to see what an orchestrator sees then).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Where this request's reads go: a direct SQLite read transaction, a direct
    /// PostgreSQL connection, or SeaORM's pool. Take it for a read and drop it before
    /// writing (on SQLite it holds a read snapshot, on PostgreSQL a connection).
    pub fn reader(&self) -> Result<Reader<'_>, DbErr> {
        match &self.direct {
            Some(DirectReads::Sqlite(pool)) => pool.session().map(Reader::Direct),
            Some(DirectReads::Postgres(pool)) => Ok(Reader::Pg(pool.session())),
            None => Ok(Reader::Orm(&self.db)),
        }
    }
}
