//! The direct SQLite executor: reads through SQLite's C library (rusqlite, linked against
//! the same `libsqlite3-sys` as sqlx, so there is one SQLite in the binary), on the task
//! that asks, in one read transaction per request.
//!
//! sqlx-sqlite runs every statement on a worker thread and hands the result back, two
//! thread switches per statement; under load a third of the CPU went to switching
//! (bench/README.md, "Designs tried"). A read of a page and its includes takes a few
//! hundred microseconds in SQLite itself, so it runs right here, as better-sqlite3 does
//! in Node. Writes run the same way on the write gate's own connection
//! (`store::write::direct`), which shares the opening, binding and stepping below.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value as LiteValue, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, DbErr, Values};

use super::Built;
use super::row::Decoder;

/// Idle read connections kept open; more may be open while many reads run at once.
const IDLE_CONNECTIONS: usize = 8;
/// Prepared statements each connection keeps (the include loader's shapes, per page size).
const STATEMENT_CACHE: usize = 256;

/// Read connections to one SQLite file.
pub struct DirectPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A SQLite error as sqlx-sqlite reports one (`DbErr::Query` of a database error whose
/// code is the extended result code), so that `error::outage` (busy, full disk) and the
/// constraint checks read it whichever executor ran the statement. Errors that are not
/// SQLite's own (a value that cannot bind, say) stay `DbErr::Custom`.
pub(in crate::store) fn lite_err(err: rusqlite::Error) -> DbErr {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            DbErr::Query(sea_orm::RuntimeErr::SqlxError(Arc::new(
                sea_orm::sqlx::Error::Database(Box::new(SqliteFailure {
                    code: code.extended_code,
                    message,
                })),
            )))
        }
        other => DbErr::Custom(format!("sqlite: {other}")),
    }
}

/// A failed SQLite call: its extended result code and message.
#[derive(Debug)]
pub(in crate::store) struct SqliteFailure {
    code: i32,
    message: String,
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As sqlx-sqlite writes it: "database is locked" is both 5 and 6.
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteFailure {}

impl sea_orm::sqlx::error::DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sea_orm::sqlx::error::ErrorKind;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Opens a connection to the SQLite file at `path` with the settings of SeaORM's pool
/// (connect.rs): foreign keys, `synchronous=NORMAL`, the busy timeout and the memory map;
/// WAL is a property of the file, which the pool set when it opened it.
pub(in crate::store) fn open_connection(path: &Path) -> Result<Connection, DbErr> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(lite_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(lite_err)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456;",
    )
    .map_err(lite_err)?;
    // The query planner stability guarantee: plans do not depend on bound values.
    // Without it SQLite marks a statement whose plan looked at a parameter (every
    // `LIMIT ?`) as expired on each new binding, and re-parses and re-plans it on the
    // next step: a cached statement was prepared again on every request, 12% of the
    // CPU of S4 (bench/README.md, "Designs tried").
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(lite_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs `sql` with `values` on `conn` and decodes every row with `decoder`.
pub(in crate::store) fn rows<D: Decoder>(
    conn: &Connection,
    sql: &str,
    values: &Values,
    decoder: &D,
) -> Result<Vec<D::Out>, DbErr> {
    step(conn, sql, values, |row| decoder.decode(row))
}

/// Runs `sql` with `values` on `conn`, passing every row to `each`. It steps to the end
/// even when the caller wants one row: that end is where an autocommit write commits, and
/// where that commit fails (a full disk).
pub(in crate::store) fn step<T>(
    conn: &Connection,
    sql: &str,
    values: &Values,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<T, DbErr>,
) -> Result<Vec<T>, DbErr> {
    let mut prepared = conn.prepare_cached(sql).map_err(lite_err)?;
    for (i, value) in values.0.iter().enumerate() {
        prepared
            .raw_bind_parameter(i + 1, Bound(value))
            .map_err(lite_err)?;
    }
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        out.push(each(row)?);
    }
    Ok(out)
}

/// A connection that one owner keeps open for itself, opened at its first use: SQLite's
/// write connection (`store::write::direct`), on which the reads inside a write unit run
/// ([`OwnConnection::all`]).
pub struct OwnConnection {
    path: PathBuf,
    // A mutex only to make the connection `Sync`; its owner lets one user in at a time.
    slot: Mutex<Option<Connection>>,
}

impl OwnConnection {
    pub(in crate::store) fn new(path: &Path) -> Self {
        OwnConnection {
            path: path.to_path_buf(),
            slot: Mutex::new(None),
        }
    }

    /// The connection's slot: `None` until it is opened, or after it was closed.
    pub(in crate::store) fn slot(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Option<Connection>>, DbErr> {
        self.slot
            .lock()
            .map_err(|_| DbErr::Custom("an owned connection's lock was poisoned".into()))
    }

    /// Runs `f` on the connection, opening it first if needed.
    pub(in crate::store) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let mut slot = self.slot()?;
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(open_connection(&self.path)?),
        };
        f(conn)
    }

    /// Every row of `built`, decoded by position, reported to the request's counter.
    pub fn all<D: Decoder>(&self, built: &Built, decoder: &D) -> Result<Vec<D::Out>, DbErr> {
        let started = Instant::now();
        let result = self.with(|conn| rows(conn, &built.sql, &built.values, decoder));
        built.record(DbBackend::Sqlite, started.elapsed(), result.is_err());
        result
    }
}

impl DirectPool {
    /// A pool for the database file at `path` (opened on first use, as db.rs opens it).
    pub fn new(path: &Path) -> Self {
        DirectPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<Connection, DbErr> {
        open_connection(&self.path)
    }

    /// A connection in a read transaction, for one request.
    pub fn session(self: &Arc<Self>) -> Result<Session, DbErr> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        // One snapshot for every statement of the request: a page, its count and its
        // includes agree with each other even while writers commit.
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.raw_execute())
            .map_err(lite_err)?;
        Ok(Session {
            conn: Mutex::new(Some(conn)),
            pool: Arc::clone(self),
        })
    }
}

/// One request's read transaction on a pooled connection; ends (and goes back to the
/// pool) when dropped.
pub struct Session {
    // A mutex only to make the session `Sync` (a handler's future holds `&Reader` across
    // awaits); statements never wait on it, since one request runs them one at a time.
    conn: Mutex<Option<Connection>>,
    pool: Arc<DirectPool>,
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(conn) = self.conn.get_mut().ok().and_then(Option::take) else {
            return;
        };
        let ended = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.raw_execute())
            .is_ok();
        if ended
            && let Ok(mut idle) = self.pool.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(conn);
        }
    }
}

/// A sea-query value bound the way sea-query-sqlx binds it for sqlx-sqlite, so that
/// both executors compare stored values with the same text (timestamps above all).
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let int = |n: Option<i64>| match n {
            Some(n) => ToSqlOutput::Owned(LiteValue::Integer(n)),
            None => ToSqlOutput::Owned(LiteValue::Null),
        };
        Ok(match self.0 {
            Value::Bool(v) => int(v.map(i64::from)),
            Value::TinyInt(v) => int(v.map(i64::from)),
            Value::SmallInt(v) => int(v.map(i64::from)),
            Value::Int(v) => int(v.map(i64::from)),
            Value::BigInt(v) => int(*v),
            Value::TinyUnsigned(v) => int(v.map(i64::from)),
            Value::SmallUnsigned(v) => int(v.map(i64::from)),
            Value::Unsigned(v) => int(v.map(i64::from)),
            Value::BigUnsigned(Some(v)) => match i64::try_from(*v) {
                Ok(n) => int(Some(n)),
                Err(_) => ToSqlOutput::Owned(LiteValue::Real(*v as f64)),
            },
            Value::BigUnsigned(None) => int(None),
            Value::Float(v) => match v {
                Some(f) => ToSqlOutput::Owned(LiteValue::Real(f64::from(*f))),
                None => int(None),
            },
            Value::Double(v) => match v {
                Some(f) => ToSqlOutput::Owned(LiteValue::Real(*f)),
                None => int(None),
            },
            Value::String(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Char(Some(c)) => ToSqlOutput::Owned(LiteValue::Text(c.to_string())),
            Value::Bytes(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::ChronoDateTimeUtc(Some(t)) => ToSqlOutput::Owned(LiteValue::Text(
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            )),
            Value::String(None)
            | Value::Char(None)
            | Value::Bytes(None)
            | Value::ChronoDateTimeUtc(None) => int(None),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("no direct SQLite binding for {other:?}").into(),
                ));
            }
        })
    }
}

impl Session {
    /// Runs `built`, decodes every row, and reports the statement.
    pub fn all<D: Decoder>(&self, built: &Built, decoder: &D) -> Result<Vec<D::Out>, DbErr> {
        let started = Instant::now();
        let result = self.run(&built.sql, &built.values, decoder);
        built.record(DbBackend::Sqlite, started.elapsed(), result.is_err());
        result
    }

    fn run<D: Decoder>(
        &self,
        sql: &str,
        values: &Values,
        decoder: &D,
    ) -> Result<Vec<D::Out>, DbErr> {
        let guard = self
            .conn
            .lock()
            .map_err(|_| DbErr::Custom("a read connection's lock was poisoned".into()))?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| DbErr::Custom("the read session has ended".into()))?;
        rows(conn, sql, values, decoder)
    }
}
