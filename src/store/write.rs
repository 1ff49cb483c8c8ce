//! The write unit: what a service writes through.
//!
//! A [`Writer`] holds the process's SQLite write gate from the moment it is handed out
//! (PostgreSQL has no gate) and starts in autocommit, which is all a write of one
//! statement needs (atomic on its own, no `BEGIN`/`COMMIT` round trips). A service that
//! writes more than one statement calls [`Writer::begin`] and gets the same unit as a
//! transaction, which [`Writer::commit`] ends (dropping it rolls back). So the service,
//! which knows its statements, decides; the handler only hands it the unit
//! ([`super::Db::write`]).
//!
//! Why the gate: SQLite allows one writer at a time, and a deferred transaction that reads
//! and then writes fails at once with "database is locked" when another writer got there
//! first (the busy timeout does not apply to that upgrade). Serialising the writes of the
//! process avoids that; across processes the busy timeout still applies.
//!
//! Where the statements run: on a SQLite file, on the connection the gate owns, through
//! SQLite's C library on the request's task ([`direct`]); on PostgreSQL (and an in-memory
//! SQLite database, which another connection could not see), on SeaORM's pool.
//!
//! A `Writer` is a SeaORM [`ConnectionTrait`], so entities' `insert`/`update`/`delete`
//! run on it directly; reads inside the write go through [`Writer::read`], which sees the
//! transaction's own changes.

pub(super) mod direct;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::{MappedMutexGuard, MutexGuard};

use super::read::{OrmConn, Reader};
use direct::WriteConn;

/// What the SQLite write gate guards: the write connection, when the database is a file.
pub(super) type Gate = Option<WriteConn>;

/// A request's write unit: the write connection, the pool connection or a transaction,
/// with the write gate.
pub struct Writer<'a> {
    conn: Conn<'a>,
    /// The gate, when the unit runs on SeaORM (the direct connection is its own guard).
    _gate: Option<MutexGuard<'a, Gate>>,
}

enum Conn<'a> {
    /// SQLite's write connection, in autocommit or in a transaction begun on it.
    Direct(DirectUnit<'a>),
    /// Autocommit on the pool: each statement is its own transaction.
    Auto(&'a DatabaseConnection),
    /// A transaction begun by [`Writer::begin`].
    Txn(DatabaseTransaction, &'a DatabaseConnection),
}

/// The write connection while a unit holds the gate. Dropped inside a transaction (a
/// unit that ends without its commit, or whose commit failed), it rolls back on the
/// spot, before the gate opens, as SeaORM's transactions do when dropped.
struct DirectUnit<'a>(MappedMutexGuard<'a, WriteConn>);

impl Drop for DirectUnit<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl<'a> Writer<'a> {
    pub(super) fn new(db: &'a DatabaseConnection, gate: Option<MutexGuard<'a, Gate>>) -> Self {
        match gate.map(|gate| MutexGuard::try_map(gate, Option::as_mut)) {
            Some(Ok(conn)) => Writer {
                conn: Conn::Direct(DirectUnit(conn)),
                _gate: None,
            },
            Some(Err(gate)) => Writer {
                conn: Conn::Auto(db),
                _gate: Some(gate),
            },
            None => Writer {
                conn: Conn::Auto(db),
                _gate: None,
            },
        }
    }

    /// The same unit as a transaction (still holding the gate). A unit that is already a
    /// transaction is returned as it is: callers compose.
    pub async fn begin(self) -> Result<Writer<'a>, DbErr> {
        let conn = match self.conn {
            Conn::Direct(unit) => {
                if !unit.0.in_transaction()? {
                    unit.0.begin()?;
                }
                Conn::Direct(unit)
            }
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
            Conn::Direct(unit) => match unit.0.in_transaction()? {
                true => unit.0.commit(),
                false => Ok(()),
            },
            Conn::Auto(_) => Ok(()),
            Conn::Txn(txn, _) => txn.commit().await,
        }
    }

    /// Whether a statement that returns rows (`INSERT … RETURNING`), run in autocommit,
    /// reports a commit that fails. SQLite commits it at the statement's end, after the
    /// returned row: the write connection steps there, sqlx-sqlite stops at the row and
    /// never sees the commit fail (docs/guarantees.md). PostgreSQL reports it either way.
    pub fn returning_reports_commit(&self) -> bool {
        match &self.conn {
            Conn::Direct(_) => true,
            Conn::Auto(db) | Conn::Txn(_, db) => db.get_database_backend() != DbBackend::Sqlite,
        }
    }

    /// Reads inside this write, on the unit's own connection (they see what the unit
    /// wrote so far), counted like every other statement.
    pub fn read(&self) -> Reader<'_> {
        match &self.conn {
            Conn::Direct(unit) => Reader::Write(unit.0.reads()),
            Conn::Auto(db) => Reader::Orm(OrmConn::Pool(db)),
            Conn::Txn(txn, _) => Reader::Orm(OrmConn::Txn(txn)),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Writer<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match &self.conn {
            Conn::Direct(_) => DbBackend::Sqlite,
            Conn::Auto(db) | Conn::Txn(_, db) => db.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.conn {
            Conn::Direct(DirectUnit(conn)) => conn.execute(&stmt),
            Conn::Auto(db) => db.execute_raw(stmt).await,
            Conn::Txn(txn, _) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.conn {
            Conn::Direct(DirectUnit(conn)) => conn.execute_unprepared(sql),
            Conn::Auto(db) => db.execute_unprepared(sql).await,
            Conn::Txn(txn, _) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.conn {
            Conn::Direct(DirectUnit(conn)) => Ok(conn.query(&stmt)?.into_iter().next()),
            Conn::Auto(db) => db.query_one_raw(stmt).await,
            Conn::Txn(txn, _) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.conn {
            Conn::Direct(DirectUnit(conn)) => conn.query(&stmt),
            Conn::Auto(db) => db.query_all_raw(stmt).await,
            Conn::Txn(txn, _) => txn.query_all_raw(stmt).await,
        }
    }
}
