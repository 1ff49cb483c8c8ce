//! The write unit: what a service writes through.
//!
//! A [`Writer`] holds the process's SQLite write gate from the moment it is handed out
//! (PostgreSQL has no gate) and starts as the pool connection in autocommit, which is all
//! a write of one statement needs (atomic on its own, no `BEGIN`/`COMMIT` round trips).
//! A service that writes more than one statement calls [`Writer::begin`] and gets the
//! same unit as a transaction, which [`Writer::commit`] ends (dropping it rolls back).
//! So the service, which knows its statements, decides; the handler only hands it the
//! unit ([`super::Db::write`]).
//!
//! Why the gate: SQLite allows one writer at a time, and a deferred transaction that reads
//! and then writes fails at once with "database is locked" when another writer got there
//! first (the busy timeout does not apply to that upgrade). Serialising the writes of the
//! process avoids that; across processes the busy timeout still applies.
//!
//! A `Writer` is a SeaORM [`ConnectionTrait`], so entities' `insert`/`update`/`delete`
//! run on it directly; reads inside the write go through [`Writer::read`], which sees the
//! transaction's own changes.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::MutexGuard;

use super::read::{OrmConn, Reader};

/// A request's write unit: the pool connection or a transaction, with the write gate.
pub struct Writer<'a> {
    conn: Conn<'a>,
    _gate: Option<MutexGuard<'a, ()>>,
}

enum Conn<'a> {
    /// Autocommit on the pool: each statement is its own transaction.
    Auto(&'a DatabaseConnection),
    /// A transaction begun by [`Writer::begin`].
    Txn(DatabaseTransaction, &'a DatabaseConnection),
}

impl<'a> Writer<'a> {
    pub(super) fn new(db: &'a DatabaseConnection, gate: Option<MutexGuard<'a, ()>>) -> Self {
        Writer {
            conn: Conn::Auto(db),
            _gate: gate,
        }
    }

    /// The same unit as a transaction (still holding the gate). A unit that is already a
    /// transaction is returned as it is: callers compose.
    pub async fn begin(self) -> Result<Writer<'a>, DbErr> {
        let conn = match self.conn {
            Conn::Auto(db) => Conn::Txn(db.begin().await?, db),
            txn @ Conn::Txn(..) => txn,
        };
        Ok(Writer {
            conn,
            _gate: self._gate,
        })
    }

    /// Commits the transaction (nothing to do in autocommit) and gives the gate back.
    pub async fn commit(self) -> Result<(), DbErr> {
        match self.conn {
            Conn::Auto(_) => Ok(()),
            Conn::Txn(txn, _) => txn.commit().await,
        }
    }

    /// Reads inside this write, through SeaORM on the unit's own connection (they see what
    /// the unit wrote so far), counted like every other statement.
    pub fn read(&self) -> Reader<'_> {
        Reader::Orm(match &self.conn {
            Conn::Auto(db) => OrmConn::Pool(db),
            Conn::Txn(txn, _) => OrmConn::Txn(txn),
        })
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Writer<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match &self.conn {
            Conn::Auto(db) | Conn::Txn(_, db) => db.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.conn {
            Conn::Auto(db) => db.execute_raw(stmt).await,
            Conn::Txn(txn, _) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.conn {
            Conn::Auto(db) => db.execute_unprepared(sql).await,
            Conn::Txn(txn, _) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.conn {
            Conn::Auto(db) => db.query_one_raw(stmt).await,
            Conn::Txn(txn, _) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.conn {
            Conn::Auto(db) => db.query_all_raw(stmt).await,
            Conn::Txn(txn, _) => txn.query_all_raw(stmt).await,
        }
    }
}
