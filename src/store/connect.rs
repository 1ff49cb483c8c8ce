//! Opening the database: SQLite (WAL, foreign keys on every pooled connection, a busy
//! timeout, `synchronous=NORMAL`, reads through a 256 MiB memory map) or PostgreSQL from
//! one URL, with errors that say where Relata looked and which setting named it; and
//! migrations. SeaORM's metric callback reports every statement to the counter.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

use super::count::record_statement;
use crate::migration::Migrator;

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

/// The tokio-postgres configuration of a PostgreSQL `url`, when the direct executors can
/// serve it: tokio-postgres reads it as it is (no option only sqlx knows) and it does not
/// require TLS. Else why not.
pub(in crate::store) fn direct_pg_config(url: &str) -> Result<tokio_postgres::Config, String> {
    use tokio_postgres::config::SslMode;
    let config = <tokio_postgres::Config as std::str::FromStr>::from_str(url)
        .map_err(|err| format!("tokio-postgres cannot use this URL: {err}"))?;
    if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
        return Err("the URL requires TLS".to_string());
    }
    Ok(config)
}

/// `HOST:PORT/DATABASE` of a server URL, without the user and password.
pub(in crate::store) fn database_place(url: &str) -> String {
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
        // sqlx pings every connection it hands out and again every one it takes back: on
        // PostgreSQL the first ping was a round trip before each write's first statement
        // (bench/README.md, "Issue 25: article creation, one client"). The ping on release
        // still drops a broken connection after its request; one idle long enough for the
        // server (or a proxy) to have dropped it is still pinged before use.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
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
