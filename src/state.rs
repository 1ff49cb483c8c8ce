//! The state every handler receives: the database (and its write gate), the direct SQLite
//! read pool, the token keys, the settings and the metrics.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use crate::config::Settings;
use crate::db::Writer;
use crate::jwt::JwtKeys;
use crate::metrics::Metrics;
use crate::service::read::Reader;
use crate::service::read::direct::DirectPool;

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
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// Read connections of the direct SQLite executor; `None` on PostgreSQL.
    direct: Option<Arc<DirectPool>>,
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, jwt: JwtKeys, settings: Settings) -> Self {
        let direct = crate::db::sqlite_file(&db).map(|path| Arc::new(DirectPool::new(&path)));
        AppState(Arc::new(State {
            writer: Writer::new(db.clone()),
            db,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            direct,
        }))
    }

    /// The same state reading through SeaORM on SQLite too (the tests compare the two).
    pub fn without_direct_reads(&self) -> Self {
        AppState(Arc::new(State {
            direct: None,
            ..State::clone(&self.0)
        }))
    }
}

impl State {
    /// Where this request's reads go: a direct SQLite read transaction, or SeaORM's pool.
    /// Take it for a read and drop it before writing (it holds a read snapshot).
    pub fn reader(&self) -> Result<Reader<'_>, DbErr> {
        match &self.direct {
            Some(pool) => pool.session().map(Reader::Direct),
            None => Ok(Reader::Orm(&self.db)),
        }
    }
}
