//! The state every handler receives: the database, the direct SQLite read pool, the token
//! keys, the settings, and the write gate that keeps SQLite writers from colliding.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{Mutex, MutexGuard};

use crate::config::Settings;
use crate::service::auth::JwtKeys;
use crate::service::read::Reader;
use crate::service::read::direct::DirectPool;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<crate::observe::Metrics>,
    /// Read connections of the direct SQLite executor; `None` on PostgreSQL.
    direct: Option<Arc<DirectPool>>,
    write_gate: Arc<Mutex<()>>,
    sqlite: bool,
}

/// A write transaction; on SQLite it also holds the process's write gate.
pub struct WriteTxn<'a> {
    pub txn: DatabaseTransaction,
    _gate: Option<MutexGuard<'a, ()>>,
}

impl std::ops::Deref for WriteTxn<'_> {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, jwt: JwtKeys, settings: Settings) -> Self {
        let sqlite = crate::db::is_sqlite(&db);
        let direct = crate::db::sqlite_file(&db).map(|path| Arc::new(DirectPool::new(&path)));
        AppState {
            direct,
            db,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            metrics: Arc::new(crate::observe::Metrics::default()),
            write_gate: Arc::new(Mutex::new(())),
            sqlite,
        }
    }

    /// Where this request's reads go: a direct SQLite read transaction, or SeaORM's pool.
    /// Take it for a read and drop it before writing (it holds a read snapshot).
    pub fn reader(&self) -> Result<Reader<'_>, DbErr> {
        match &self.direct {
            Some(pool) => pool.session().map(Reader::Direct),
            None => Ok(Reader::Orm(&self.db)),
        }
    }

    /// The same state reading through SeaORM on SQLite too (the tests compare the two).
    pub fn without_direct_reads(mut self) -> Self {
        self.direct = None;
        self
    }

    /// Begins a transaction that will write.
    ///
    /// SQLite allows one writer at a time, and a deferred transaction that reads and then
    /// writes fails at once with "database is locked" when another writer got there first
    /// (the busy timeout does not apply to that upgrade). Serialising write transactions
    /// inside the process avoids that; across processes the busy timeout still applies.
    pub async fn begin_write(&self) -> Result<WriteTxn<'_>, DbErr> {
        let gate = if self.sqlite {
            Some(self.write_gate.lock().await)
        } else {
            None
        };
        let txn = self.db.begin().await?;
        Ok(WriteTxn { txn, _gate: gate })
    }
}
