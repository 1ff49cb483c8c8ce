//! The state every handler receives: the database (and its write gate), the token keys,
//! the settings and the metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::db::Writer;
use crate::jwt::JwtKeys;
use crate::metrics::Metrics;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// The same connection, for services that write in a transaction.
    pub writer: Writer,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, jwt: JwtKeys, settings: Settings) -> Self {
        AppState {
            writer: Writer::new(db.clone()),
            db,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
        }
    }
}
