//! The read executor: every GET's statements (token check, parent check, page, count,
//! includes, counts) are sea-query `SELECT`s run through a [`Reader`] and decoded into
//! typed rows ([`FromRow`]), so statement building stays single while execution has one
//! path per backend:
//!
//! - on SQLite, [`direct`]: SQLite's C library on the request's own task, one read
//!   transaction per request, no thread hand-off;
//! - on PostgreSQL, [`pg`]: tokio-postgres on one pooled connection per request, each
//!   statement prepared once per connection, on the primary or on a read replica that
//!   has replayed every write answered before the request began ([`replica`]);
//! - when direct reads are off (a test compares the executors, or a PostgreSQL URL that
//!   only sqlx can serve), SeaORM's pool.
//!
//! Statements that do not depend on each other may run concurrently (callers use
//! `futures::join`), on the same task, so the request's counter still sees them; on
//! PostgreSQL they are pipelined on the request's connection.
//!
//! Both report each statement through `store::record_statement`, which feeds
//! `X-Query-Count`, `Server-Timing` and the query budget (SPEC §3).

pub mod direct;
mod models;
pub mod pg;
pub mod replica;
pub mod row;
pub mod shape;

use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    Statement,
};

pub use row::{Column, Decoder, Fields, FromRow, Linked, Row};
pub use shape::{Built, ShapeCache};

/// A read unit: where a request's reads go.
pub enum Reader<'a> {
    /// SeaORM: its pool (direct reads off, or a database no direct executor serves), or
    /// the connection of a write unit ([`crate::store::Writer::read`]).
    Orm(OrmConn<'a>),
    /// A direct SQLite read transaction.
    Direct(direct::Session),
    /// A direct PostgreSQL connection.
    Pg(pg::Session),
    /// SQLite's write connection, inside a write unit ([`crate::store::Writer::read`]).
    Write(&'a direct::OwnConnection),
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if matches!(self, Reader::Direct(_) | Reader::Pg(_)) {
            super::count::read_unit(false);
        }
    }
}

/// A SeaORM connection a read unit runs on.
#[derive(Clone, Copy)]
pub enum OrmConn<'a> {
    Pool(&'a DatabaseConnection),
    Txn(&'a DatabaseTransaction),
}

impl OrmConn<'_> {
    fn backend(self) -> DbBackend {
        match self {
            OrmConn::Pool(db) => db.get_database_backend(),
            OrmConn::Txn(txn) => txn.get_database_backend(),
        }
    }

    async fn query_all(self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            OrmConn::Pool(db) => db.query_all_raw(stmt).await,
            OrmConn::Txn(txn) => txn.query_all_raw(stmt).await,
        }
    }
}

impl Reader<'_> {
    /// The SQL dialect statements are built for.
    pub fn backend(&self) -> DbBackend {
        match self {
            Reader::Orm(db) => db.backend(),
            Reader::Direct(_) | Reader::Write(_) => DbBackend::Sqlite,
            Reader::Pg(_) => DbBackend::Postgres,
        }
    }

    /// Every row of `stmt`, each decoded by `decoder`.
    pub async fn all_by<D: Decoder>(
        &self,
        stmt: impl IntoBuilt,
        decoder: &D,
    ) -> Result<Vec<D::Out>, DbErr> {
        let built = stmt.into_built(self.backend());
        match self {
            // Boxed: SeaORM's future is kilobytes, and unboxed it would size every
            // read's future, on every executor, and every future awaiting one, which
            // are moved as they are boxed and polled (bench/README.md, "Profile of the
            // common path"). The direct executors are the usual path; SeaORM's
            // statement costs more than the box.
            Reader::Orm(db) => Box::pin(db.query_all(Statement::from_sql_and_values(
                db.backend(),
                built.sql.to_string(),
                built.values,
            )))
            .await?
            .iter()
            .map(|row| decoder.decode(row))
            .collect(),
            Reader::Direct(session) => session.all(&built, decoder),
            Reader::Pg(session) => session.all(&built, decoder).await,
            Reader::Write(conn) => conn.all(&built, decoder),
        }
    }

    /// Every row of `stmt`.
    pub async fn all<T: FromRow>(&self, stmt: impl IntoBuilt) -> Result<Vec<T>, DbErr> {
        self.all_by(stmt, &row::ByType::<T>::default()).await
    }

    /// The first row of `stmt`, if any.
    pub async fn first<T: FromRow>(&self, stmt: impl IntoBuilt) -> Result<Option<T>, DbErr> {
        Ok(self.all(stmt).await?.into_iter().next())
    }

    /// Whether `stmt` returns a row (its columns are not read).
    pub async fn exists(&self, stmt: impl IntoBuilt) -> Result<bool, DbErr> {
        Ok(!self.all::<Nothing>(stmt).await?.is_empty())
    }
}

/// What a [`Reader`] runs: a sea-query statement, built for the reader's backend when it
/// runs, or a statement [`Built`] before (by a [`ShapeCache`]).
pub trait IntoBuilt {
    fn into_built(self, backend: DbBackend) -> Built;
}

impl IntoBuilt for &SelectStatement {
    fn into_built(self, backend: DbBackend) -> Built {
        Built::now(backend, self)
    }
}

impl IntoBuilt for Built {
    fn into_built(self, _: DbBackend) -> Built {
        self
    }
}

/// A row whose columns are not read.
struct Nothing;

impl FromRow for Nothing {
    fn from_row<R: Row>(_: &R) -> Result<Self, DbErr> {
        Ok(Nothing)
    }
}
