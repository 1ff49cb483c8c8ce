//! Database set-up and the per-request statement counter.
//!
//! `connect` opens SQLite (WAL, foreign keys on every pooled connection, a busy timeout,
//! `synchronous=NORMAL`, reads through a 256 MiB memory map) or PostgreSQL from one URL.
//! A metric callback on the connection counts every statement a request sends into a
//! task-local [`RequestStats`], which the HTTP layer turns into `X-Query-Count` and
//! `Server-Timing`, and checks against the request's query budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, MutexGuard};

use crate::migration::Migrator;

pub mod page;
pub mod read;

/// What one request did with the database.
#[derive(Debug, Default)]
pub struct RequestStats {
    statements: AtomicUsize,
    nanos: AtomicU64,
    budget: AtomicUsize,
}

impl RequestStats {
    /// Statements sent so far (transaction control excluded: SeaORM does not report it).
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    /// Time spent waiting on the database so far.
    pub fn db_time(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// The request's statement budget, when its handler declared one.
    pub fn budget(&self) -> Option<usize> {
        match self.budget.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }
}

tokio::task_local! {
    static STATS: Arc<RequestStats>;
}

#[cfg(feature = "bench-capture")]
tokio::task_local! {
    static CAPTURE: Arc<std::sync::Mutex<Vec<Statement>>>;
}

/// Runs `fut` and returns, beside its output, every statement it sent (in order, bound
/// values included): the benchmark's database floor replays them without HTTP or the ORM.
/// Opt-in and outside [`RequestStats`]' scope on purpose, so that it sees through the
/// `observe` layer's own scope. Only in builds with the `bench-capture` feature (the
/// benchmark's): production's per-statement path carries no capture at all.
#[cfg(feature = "bench-capture")]
pub async fn capturing_statements<F: std::future::Future>(fut: F) -> (F::Output, Vec<Statement>) {
    let captured = Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = CAPTURE.scope(captured.clone(), fut).await;
    let statements = captured.lock().map(|v| v.clone()).unwrap_or_default();
    (out, statements)
}

/// Runs `fut` with a fresh statement counter and returns the counter beside its output.
pub async fn with_stats<F: std::future::Future>(fut: F) -> (F::Output, Arc<RequestStats>) {
    let stats = Arc::new(RequestStats::default());
    let out = STATS.scope(stats.clone(), fut).await;
    (out, stats)
}

/// The current request's counter, when called inside one.
pub fn current_stats() -> Option<Arc<RequestStats>> {
    STATS.try_with(|s| s.clone()).ok()
}

/// Declares how many statements the current request may run (SPEC §3 query budget).
pub fn set_budget(statements: usize) {
    let _ = STATS.try_with(|s| s.budget.store(statements.max(1), Ordering::Relaxed));
}

/// Opens the database named by `url`, creating a missing SQLite file: what `serve`,
/// `migrate`, `seed` and `admin` want on a fresh machine.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    open(url, max_connections, true).await
}

/// How `relata` itself opens its database (the server and every command): within
/// `RELATA_DB_CONNECT_TIMEOUT_SECS`, creating a missing SQLite file unless `must_exist`,
/// and, when it cannot, with an error that says where it looked and which setting named
/// it, the cause given once.
pub async fn connect_configured(
    settings: &crate::config::Settings,
    max_connections: u32,
    must_exist: bool,
) -> anyhow::Result<DatabaseConnection> {
    let url = &settings.database_url;
    let place = match sqlite_path(url) {
        Some(path) => format!("the SQLite database {}", path.display()),
        None => format!("the database at {}", database_place(url)),
    };
    if must_exist
        && let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        anyhow::bail!(
            "no SQLite database at {} (DATABASE_URL); this command creates none",
            path.display()
        );
    }
    let wait = settings.db_connect_timeout;
    match tokio::time::timeout(wait, open(url, max_connections, !must_exist)).await {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(err)) => {
            let hint = if sqlite_path(url).is_some() {
                " (does its directory exist, and may this user write there?)"
            } else {
                ""
            };
            anyhow::bail!(
                "cannot open {place} named by DATABASE_URL: {}{hint}",
                db_err_cause(&err)
            )
        }
        Err(_) => anyhow::bail!(
            "no answer from {place} named by DATABASE_URL within {} s \
             (RELATA_DB_CONNECT_TIMEOUT_SECS)",
            wait.as_secs()
        ),
    }
}

/// `HOST:PORT/DATABASE` of a server URL, without the user and password.
fn database_place(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}:{}{}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432),
            parsed.path()
        ),
        Err(_) => "the configured address".to_string(),
    }
}

/// What went wrong, once: SeaORM's connection errors repeat their cause in their own
/// message ("Connection Error: X" whose source is X again).
fn db_err_cause(err: &DbErr) -> String {
    match err {
        DbErr::Conn(sea_orm::RuntimeErr::SqlxError(inner)) => inner.to_string(),
        DbErr::Conn(sea_orm::RuntimeErr::Internal(text)) => text.clone(),
        other => other.to_string(),
    }
}

/// The file a `sqlite:` URL names, as SQLite will open it (relative to the working
/// directory when relative); `None` for PostgreSQL and for in-memory databases.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let name = path.to_string_lossy();
    if name.is_empty() || name.contains(":memory:") || name.contains("mode=memory") {
        return None;
    }
    Some(path.to_path_buf())
}

async fn open(
    url: &str,
    max_connections: u32,
    create_if_missing: bool,
) -> Result<DatabaseConnection, DbErr> {
    let mut opt = ConnectOptions::new(url.to_string());
    opt.max_connections(max_connections.max(1))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(create_if_missing)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Reads through a memory map instead of a read() per page missing from
                // each connection's small page cache (S2 on the benchmark's database
                // floor: +10-30% statement sets per second).
                .pragma("mmap_size", "268435456")
        });
    let mut db = Database::connect(opt).await?;
    db.set_metric_callback(|info| {
        record_statement(info.elapsed, info.failed, || info.statement.clone())
    });
    Ok(db)
}

/// Reports one statement sent on behalf of the current request, to its counter and (in
/// `bench-capture` builds) to a running capture. The single per-statement hook: every
/// executor calls it, so `X-Query-Count`, the budget and the benchmark's capture see
/// every statement whichever executor ran it. `statement` is only built when a capture
/// is running. Task-locals: call it on the request's task.
pub fn record_statement(elapsed: Duration, _failed: bool, statement: impl FnOnce() -> Statement) {
    let _ = STATS.try_with(|s| {
        s.statements.fetch_add(1, Ordering::Relaxed);
        s.nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    });
    #[cfg(feature = "bench-capture")]
    let _ = CAPTURE.try_with(|c| {
        if let Ok(mut v) = c.lock() {
            v.push(statement());
        }
    });
    #[cfg(not(feature = "bench-capture"))]
    let _ = statement;
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// (open, idle, maximum) connections of the pool.
pub fn pool_status(db: &DatabaseConnection) -> (u32, usize, u32) {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
    }
}

/// The database file of a SQLite connection, for the direct read executor; `None` for
/// PostgreSQL and for in-memory databases, which another connection could not see.
pub fn sqlite_file(db: &DatabaseConnection) -> Option<std::path::PathBuf> {
    if !is_sqlite(db) {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let path = options.get_filename();
    let name = path.to_string_lossy();
    if name.is_empty() || name.contains(":memory:") || name.contains("mode=memory") {
        return None;
    }
    Some(path.to_path_buf())
}

/// True for PostgreSQL.
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    matches!(db.get_database_backend(), DbBackend::Postgres)
}

/// True for SQLite, whose writers take one database-wide lock.
pub fn is_sqlite(db: &DatabaseConnection) -> bool {
    matches!(db.get_database_backend(), DbBackend::Sqlite)
}

/// The connection as the services that write in a transaction use it: on SQLite, write
/// transactions of this process take turns through a gate.
///
/// SQLite allows one writer at a time, and a deferred transaction that reads and then
/// writes fails at once with "database is locked" when another writer got there first
/// (the busy timeout does not apply to that upgrade). Serialising write transactions
/// inside the process avoids that; across processes the busy timeout still applies.
#[derive(Clone)]
pub struct Writer {
    db: DatabaseConnection,
    gate: Option<Arc<Mutex<()>>>,
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

/// The connection of a one-statement write; on SQLite it also holds the write gate.
pub struct SingleWrite<'a> {
    db: &'a DatabaseConnection,
    _gate: Option<MutexGuard<'a, ()>>,
}

impl std::ops::Deref for SingleWrite<'_> {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        self.db
    }
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl Writer {
    /// The writer of `db`, with a gate of its own when `db` is SQLite.
    pub fn new(db: DatabaseConnection) -> Self {
        let gate = is_sqlite(&db).then(|| Arc::new(Mutex::new(())));
        Writer { db, gate }
    }

    /// The connection, for the statements that need no transaction.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Waits for the write gate (SQLite) and returns the connection, for a write that is
    /// one statement (atomic on its own) and needs no `BEGIN`/`COMMIT` round trips.
    pub async fn single(&self) -> SingleWrite<'_> {
        let gate = match &self.gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        SingleWrite {
            db: &self.db,
            _gate: gate,
        }
    }

    /// Begins a transaction that will write.
    pub async fn begin(&self) -> Result<WriteTxn<'_>, DbErr> {
        let gate = match &self.gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let txn = self.db.begin().await?;
        Ok(WriteTxn { txn, _gate: gate })
    }
}
