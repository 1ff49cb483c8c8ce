//! The state every handler receives: the database ([`Store`]), the token keys, the
//! password hasher and its bound, the per-client limits, the settings and the metrics, and whether the server is draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::http::common::limits::ClientLimits;
use crate::jwt::JwtKeys;
use crate::metrics::Metrics;
use crate::service::auth::Passwords;
use crate::store::{Db, Replicas, Store};

/// Shared application state; a clone (axum makes several per request) is one reference
/// count.
#[derive(Clone)]
pub struct AppState(Arc<State>);

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct State {
    /// The database: every request reads and writes through [`State::db`].
    pub store: Store,
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
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl AppState {
    /// The state of an open database; `replicas` ([`Replicas::start`]) take its reads.
    pub fn new(
        db: DatabaseConnection,
        jwt: JwtKeys,
        settings: Settings,
        replicas: Option<Arc<Replicas>>,
    ) -> Self {
        AppState(Arc::new(State {
            store: Store::new(
                db,
                &settings.database_url,
                settings.max_connections,
                replicas,
            ),
            jwt: Arc::new(jwt),
            passwords: Arc::new(Passwords::new(settings.concurrent_hashes())),
            limits: Arc::new(ClientLimits::new(&settings)),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            draining: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// The same state reading through SeaORM (the tests compare the executors).
    pub fn without_direct_reads(&self) -> Self {
        AppState(Arc::new(State {
            store: self.store.without_direct_reads(),
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

    /// The request's handle on the database: read units and write units come from it
    /// ([`crate::store`]).
    pub fn db(&self) -> Db<'_> {
        self.store.db()
    }
}
