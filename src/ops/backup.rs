//! `relata backup DEST`: a consistent copy of the live database, taken while other
//! processes go on reading and writing it.
//!
//! On SQLite the copy is made by SQLite itself with `VACUUM INTO`, which reads the whole
//! database inside one read transaction: the copy holds exactly the writes committed before
//! that transaction began, whatever is committed meanwhile, and (WAL mode) it blocks no
//! writer. The copy is a plain, compacted database file that `relata serve` and `relata
//! check` open as they are. The destination is never overwritten, and the source is never
//! created: a mistyped path is an error, not an empty backup.
//!
//! On PostgreSQL a file copy is not a backup; `pg_dump` is the tool made for it, and this
//! module only writes out the `pg_dump` (and `pg_restore`) command lines for the
//! configured database, with its password left out.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the copy waits for a lock the serving process holds (recovering a WAL, say)
/// before it gives up; a plain read transaction in WAL mode waits for no writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{} already exists; relata backup never overwrites a file, so choose a new name",
        .0.display()
    )]
    DestinationExists(PathBuf),
    #[error(
        "the directory of {} does not exist ({}); create it first",
        .destination.display(),
        .directory.display()
    )]
    NoDirectory {
        destination: PathBuf,
        directory: PathBuf,
    },
    #[error("no SQLite database at {} (from DATABASE_URL); nothing to back up", .0.display())]
    NoDatabase(PathBuf),
    #[error("DATABASE_URL names an in-memory database, which no other process can copy")]
    InMemory,
    #[error("copying {} into {}: {source}", .from.display(), .to.display())]
    Sqlite {
        from: PathBuf,
        to: PathBuf,
        source: rusqlite::Error,
    },
    #[error("writing {} to disk: {source}", .path.display())]
    Sync {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the backup task stopped before it finished: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// A SQLite backup that was written.
#[derive(Debug, Clone)]
pub struct Copied {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub bytes: u64,
    pub took: Duration,
}

/// What `relata backup` does for a PostgreSQL `DATABASE_URL`: the commands to run instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgDumpAdvice {
    /// `pg_dump --format=custom --file DEST 'postgres://user@host:port/db'`
    pub dump: String,
    /// The matching `pg_restore` into the same database.
    pub restore: String,
    /// The URL carried a password, which the commands leave out.
    pub password_hidden: bool,
}

/// True when `url` names a PostgreSQL database (the schemes sqlx and libpq accept).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Copies the SQLite database of `database_url` into `destination`, consistently, while
/// other connections go on using it.
pub async fn sqlite(database_url: &str, destination: &Path) -> Result<Copied, BackupError> {
    let source = crate::store::sqlite_path(database_url).ok_or(BackupError::InMemory)?;
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    refuse_unusable_destination(destination)?;
    let destination = destination.to_path_buf();
    tokio::task::spawn_blocking(move || vacuum_into(source, destination)).await?
}

/// DEST must name no file yet (not even an empty one, which `VACUUM INTO` would fill), in
/// a directory that exists.
fn refuse_unusable_destination(destination: &Path) -> Result<(), BackupError> {
    // `symlink_metadata`, so that a dangling symbolic link counts as existing too: writing
    // through it would put the backup somewhere the operator did not name.
    if destination.symlink_metadata().is_ok() {
        return Err(BackupError::DestinationExists(destination.to_path_buf()));
    }
    let directory = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !directory.is_dir() {
        return Err(BackupError::NoDirectory {
            destination: destination.to_path_buf(),
            directory,
        });
    }
    Ok(())
}

/// The copy itself, on a blocking thread: SQLite's own `VACUUM INTO`, then the file and
/// its directory flushed to disk, so that a backup reported as written survives a crash.
fn vacuum_into(source: PathBuf, destination: PathBuf) -> Result<Copied, BackupError> {
    use rusqlite::OpenFlags;
    let started = Instant::now();
    let sqlite_error = |source_error| BackupError::Sqlite {
        from: source.clone(),
        to: destination.clone(),
        source: source_error,
    };
    // Read-write without CREATE: the file must exist (it was checked, and this keeps it
    // so if it vanished since). Read-write rather than read-only because a reader of a
    // WAL database may have to create the shared-memory file when no server runs.
    let connection = rusqlite::Connection::open_with_flags(
        &source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error)?;
    // The name is bound, not spliced into the SQL: any path works, quotes included.
    // `VACUUM INTO` itself refuses a file that appeared since the check above, unless
    // it is empty.
    connection
        .execute("VACUUM INTO ?1", [destination.to_string_lossy().as_ref()])
        .map_err(sqlite_error)?;
    drop(connection);
    let sync_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Sync { path, source }
    };
    let file = std::fs::File::open(&destination).map_err(sync_error(&destination))?;
    file.sync_all().map_err(sync_error(&destination))?;
    let bytes = file.metadata().map_err(sync_error(&destination))?.len();
    if let Some(directory) = destination.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new file's directory entry is only durable once the directory is synced.
        std::fs::File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(sync_error(directory))?;
    }
    Ok(Copied {
        source,
        destination,
        bytes,
        took: started.elapsed(),
    })
}

/// The `pg_dump` and `pg_restore` command lines for the PostgreSQL `database_url`, with
/// the password removed from the URL (it would show in `ps` and the shell's history; the
/// tools read it from `PGPASSWORD` or `~/.pgpass`).
pub fn pg_dump_advice(database_url: &str, destination: &Path) -> PgDumpAdvice {
    let (url, password_hidden) = match url::Url::parse(database_url) {
        Ok(mut parsed) => {
            let had_password = parsed.password().is_some();
            // Fails only for URLs that cannot carry a password at all.
            let _ = parsed.set_password(None);
            (parsed.to_string(), had_password)
        }
        // Not a URL the `url` crate reads: say so rather than print it, since it may
        // hold a password in a form we cannot find.
        Err(_) => (
            "'<your DATABASE_URL without its password>'".to_string(),
            false,
        ),
    };
    let url = if url.starts_with('\'') {
        url
    } else {
        shell_quote(&url)
    };
    let file = shell_quote(&destination.to_string_lossy());
    PgDumpAdvice {
        dump: format!("pg_dump --format=custom --file {file} {url}"),
        restore: format!("pg_restore --clean --if-exists --no-owner --dbname {url} {file}"),
        password_hidden,
    }
}

/// `text` as one word for a POSIX shell: single-quoted, its own single quotes escaped.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_names_the_database_without_its_password() {
        let advice = pg_dump_advice(
            "postgres://relata:s3cret@db.internal:5433/relata?sslmode=require",
            Path::new("/backups/relata.dump"),
        );
        assert_eq!(
            advice.dump,
            "pg_dump --format=custom --file '/backups/relata.dump' 'postgres://relata@db.internal:5433/relata?sslmode=require'"
        );
        assert!(!advice.dump.contains("s3cret"));
        assert!(!advice.restore.contains("s3cret"));
        assert!(advice.password_hidden);
    }

    #[test]
    fn a_destination_with_a_quote_stays_one_shell_word() {
        let advice = pg_dump_advice("postgres://u@h/db", Path::new("it's.dump"));
        assert!(advice.dump.contains(r"--file 'it'\''s.dump'"), "{advice:?}");
        assert!(!advice.password_hidden);
    }

    #[test]
    fn an_existing_destination_or_a_missing_directory_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let taken = dir.path().join("taken.db");
        std::fs::write(&taken, b"").expect("an empty file");
        assert!(matches!(
            refuse_unusable_destination(&taken),
            Err(BackupError::DestinationExists(_))
        ));
        assert!(matches!(
            refuse_unusable_destination(&dir.path().join("nowhere/copy.db")),
            Err(BackupError::NoDirectory { .. })
        ));
        assert!(refuse_unusable_destination(&dir.path().join("copy.db")).is_ok());
    }
}
