//! The operator commands of "Operating Relata", run as the real binary: `relata backup`
//! copying a SQLite database that a server is writing to, `relata migrate down` undoing
//! each migration exactly (on SQLite and PostgreSQL), and `relata check` refusing a
//! database that does not exist instead of creating it.
//!
//! PostgreSQL tests live in the `postgres` module and are `#[ignore]`d like the
//! `db_test!` halves of tests/api: `cargo test --test ops -- --include-ignored` with
//! `TEST_DATABASE_URL` set runs them, and fails them when it is unset.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use support::{BIN, Server, login, register, try_request};

/// Runs `relata ARGS` on the database `url`, from `dir`.
fn relata(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("RELATA_LOG")
        .output()
        .expect("relata runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `relata ARGS` and asserts it succeeded; returns its standard output.
#[track_caller]
fn relata_ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = relata(dir, url, args);
    assert!(
        out.status.success(),
        "relata {args:?} failed ({}): {}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The number on the line `"{label}: {number} …"` of `relata backup`'s output.
fn figure(output: &str, label: &str) -> f64 {
    output
        .lines()
        .find_map(|l| {
            l.strip_prefix(label)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("a {label:?} line in {output}"))
}

// ---------------------------------------------------------------------------------------
// relata backup
// ---------------------------------------------------------------------------------------

/// One post created through the API: its id, when its request was sent, when its 201
/// arrived.
struct Write {
    id: i64,
    sent: Instant,
    acknowledged: Instant,
}

/// Creates posts on the server at `addr` one after another until `stop`, as `name`;
/// returns every one that was answered 201.
fn keep_writing(addr: String, name: &str, stop: Arc<AtomicBool>) -> Vec<Write> {
    register(&addr, name);
    let (token, _) = login(&addr, name);
    let mut writes = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body =
            serde_json::json!({"title": format!("post {n}"), "content": "written during a backup"});
        let sent = Instant::now();
        let answer = try_request(
            &addr,
            "POST",
            "/api/v1/posts",
            Some(&token),
            Some(&body.to_string()),
        );
        let acknowledged = Instant::now();
        let Some((status, body)) = answer else {
            panic!("the server stopped answering writes");
        };
        assert_eq!(status, 201, "creating a post: {body}");
        let post: serde_json::Value = serde_json::from_str(&body).expect("a JSON post");
        let id = post["id"].as_i64().expect("the post's id");
        writes.push(Write {
            id,
            sent,
            acknowledged,
        });
    }
    writes
}

#[test]
fn a_backup_taken_during_writes_holds_every_write_acknowledged_before_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("relata.db");
    let url = sqlite_url(&live);
    // Some bulk first, so that the copy takes long enough for writes to land during it.
    relata_ok(
        dir.path(),
        &url,
        &[
            "seed",
            "--users",
            "300",
            "--posts-per-user",
            "20",
            "--comments-per-post",
            "2",
            "--quiet",
        ],
    );
    let server = Server::start(
        dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_JWT_SECRET", "backup-test-secret-backup-test-secret"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, stop) = (server.addr.clone(), stop.clone());
        std::thread::spawn(move || keep_writing(addr, "backupwriter", stop))
    };
    // Let writes go on for a while before the backup, and during it.
    std::thread::sleep(Duration::from_millis(700));

    let copy = dir.path().join("backups").join("copy.db");
    std::fs::create_dir(dir.path().join("backups")).unwrap();
    let backup_began = Instant::now();
    let out = relata(dir.path(), &url, &["backup", copy.to_str().unwrap()]);
    let backup_ended = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().expect("the writer thread ends");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains(copy.to_str().unwrap()),
        "the output names the copy: {report}"
    );
    let bytes = figure(&report, "size:");
    let took = figure(&report, "took:");
    assert_eq!(
        bytes as u64,
        std::fs::metadata(&copy).unwrap().len(),
        "the size printed is the copy's"
    );

    let before: Vec<&Write> = writes
        .iter()
        .filter(|w| w.acknowledged < backup_began)
        .collect();
    let during = writes
        .iter()
        .filter(|w| w.acknowledged >= backup_began && w.sent <= backup_ended)
        .count();
    let after: Vec<&Write> = writes.iter().filter(|w| w.sent > backup_ended).collect();
    assert!(
        before.len() >= 5,
        "writes went on before the backup: {}",
        before.len()
    );

    // The copy is a sound database of its own.
    let check = relata_ok(dir.path(), &sqlite_url(&copy), &["check"]);
    assert!(check.contains("ok: no orphan rows"), "{check}");

    // Served on its own, it has every post acknowledged before the backup began, and
    // none of those whose request was only sent once the backup had ended.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy_url = sqlite_url(&copy);
    let restored = Server::start(
        copy_dir.path(),
        &[
            ("DATABASE_URL", copy_url.as_str()),
            ("RELATA_JWT_SECRET", "backup-test-secret-backup-test-secret"),
        ],
    );
    for write in &before {
        let (status, body) = restored.get(&format!("/api/v1/posts/{}", write.id));
        assert_eq!(
            status, 200,
            "post {} was acknowledged before the backup began: {body}",
            write.id
        );
    }
    for write in &after {
        let (status, body) = restored.get(&format!("/api/v1/posts/{}", write.id));
        assert_eq!(
            status, 404,
            "post {} was sent after the backup ended: {body}",
            write.id
        );
    }
    eprintln!(
        "backup figures: copy {} bytes, backup took {took:.3} s by its own report ({:.3} s for the whole command); \
         {} writes acknowledged before it began all found in the copy, {} acknowledged while it ran, \
         {} sent after it ended all absent from the copy",
        bytes as u64,
        (backup_ended - backup_began).as_secs_f64(),
        before.len(),
        during,
        after.len()
    );
    drop(server);
}

#[test]
fn a_backup_refuses_a_destination_that_exists_or_whose_directory_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("relata.db"));
    relata_ok(dir.path(), &url, &["migrate"]);

    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"yesterday's backup").unwrap();
    let out = relata(dir.path(), &url, &["backup", taken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(taken.to_str().unwrap()) && stderr(&out).contains("already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&taken).unwrap(),
        b"yesterday's backup",
        "the existing file is untouched"
    );

    // An empty file too: `VACUUM INTO` itself would fill it.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let out = relata(dir.path(), &url, &["backup", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);

    let nowhere = dir.path().join("no-such-dir").join("copy.db");
    let out = relata(dir.path(), &url, &["backup", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(nowhere.to_str().unwrap()) && stderr(&out).contains("does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("no-such-dir").exists());
}

#[test]
fn a_backup_of_a_database_that_does_not_exist_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = relata(dir.path(), "sqlite://typo.db", &["backup", "copy.db"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("typo.db"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------
// relata check on a database that is not there
// ---------------------------------------------------------------------------------------

#[test]
fn check_on_a_missing_sqlite_file_names_it_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sqlite://typo.db".to_string(),
        sqlite_url(&dir.path().join("elsewhere.db")),
    ] {
        let out = relata(dir.path(), &url, &["check"]);
        assert_eq!(out.status.code(), Some(1), "{url}: {}", stdout(&out));
        let message = stderr(&out);
        let named = url.trim_start_matches("sqlite://");
        assert!(
            message.contains(&format!("no SQLite database at {named}")),
            "{message}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "check created something for {url}"
        );
    }
    // Rolling back a database that is not there is refused the same way.
    let out = relata(dir.path(), "sqlite://typo.db", &["migrate", "down"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("typo.db"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // The commands that set a database up still create it.
    relata_ok(dir.path(), "sqlite://typo.db", &["migrate"]);
    assert!(dir.path().join("typo.db").is_file());
    let report = relata_ok(dir.path(), "sqlite://typo.db", &["check"]);
    assert!(report.contains("ok: no orphan rows"), "{report}");
}

// ---------------------------------------------------------------------------------------
// relata migrate down
// ---------------------------------------------------------------------------------------

/// The migrations' own bookkeeping table, which `down` keeps.
const BOOKKEEPING: &str = "seaql_migrations";

/// Every row of `sql` as strings (NULL as `NULL`), one line per row.
async fn rows(db: &DatabaseConnection, sql: &str, columns: &[&str]) -> Vec<String> {
    let backend = db.get_database_backend();
    let found = db
        .query_all_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    found
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.try_get::<Option<String>>("", c)
                        .or_else(|_| {
                            row.try_get::<Option<i64>>("", c)
                                .map(|v| v.map(|n| n.to_string()))
                        })
                        .unwrap_or_else(|e| panic!("{c} of {sql}: {e}"))
                        .unwrap_or_else(|| "NULL".to_string())
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// The schema as the catalog describes it, the migrations' bookkeeping left out: every
/// object with its kind, every column (type, nullability, default, key), every index
/// (columns or expression, uniqueness) and every constraint (foreign keys with their
/// actions, checks). Sorted, so that two snapshots compare line by line.
async fn schema_snapshot(url: &str) -> Vec<String> {
    let db = relata::store::connect(url, 1)
        .await
        .expect("the database opens");
    let mut lines = match db.get_database_backend() {
        DbBackend::Sqlite => sqlite_snapshot(&db).await,
        _ => postgres_snapshot(&db).await,
    };
    db.close().await.ok();
    lines.sort();
    lines
}

async fn sqlite_snapshot(db: &DatabaseConnection) -> Vec<String> {
    let mut lines = Vec::new();
    // Objects with the statement that made them (as SQLite keeps it, rewritten by any
    // ALTER TABLE since), which also holds what no pragma reports: CHECK constraints and
    // constraint names. `sqlite_sequence` is SQLite's own, made by the first AUTOINCREMENT
    // table and never dropped.
    for line in rows(
        db,
        &format!(
            "SELECT type, name, tbl_name, sql FROM sqlite_master \
             WHERE tbl_name NOT IN ('{BOOKKEEPING}', 'sqlite_sequence')"
        ),
        &["type", "name", "tbl_name", "sql"],
    )
    .await
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        lines.push(format!("object {}", words.join(" ")));
    }
    for line in rows(
        db,
        &format!(
            "SELECT m.name AS tbl, c.cid AS cid, c.name AS col, c.type AS type, c.\"notnull\" AS nn, \
                    c.dflt_value AS dflt, c.pk AS pk, c.hidden AS hidden \
             FROM sqlite_master m, pragma_table_xinfo(m.name) c \
             WHERE m.type = 'table' AND m.name NOT IN ('{BOOKKEEPING}', 'sqlite_sequence')"
        ),
        &["tbl", "cid", "col", "type", "nn", "dflt", "pk", "hidden"],
    )
    .await
    {
        lines.push(format!("column {line}"));
    }
    for line in rows(
        db,
        &format!(
            "SELECT m.name AS tbl, il.name AS idx, il.\"unique\" AS uniq, il.origin AS origin, \
                    il.partial AS partial, \
                    (SELECT group_concat(coalesce(ii.name, '<expr>') || ' ' || ii.\"desc\", ', ') \
                       FROM pragma_index_xinfo(il.name) ii WHERE ii.key = 1) AS cols \
             FROM sqlite_master m, pragma_index_list(m.name) il \
             WHERE m.type = 'table' AND m.name <> '{BOOKKEEPING}'"
        ),
        &["tbl", "idx", "uniq", "origin", "partial", "cols"],
    )
    .await
    {
        lines.push(format!("index {line}"));
    }
    for line in rows(
        db,
        "SELECT m.name AS tbl, f.id AS id, f.seq AS seq, f.\"from\" AS col, f.\"table\" AS ptbl, \
                f.\"to\" AS pcol, f.on_update AS upd, f.on_delete AS del, f.\"match\" AS mat \
         FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        &[
            "tbl", "id", "seq", "col", "ptbl", "pcol", "upd", "del", "mat",
        ],
    )
    .await
    {
        lines.push(format!("foreign key {line}"));
    }
    lines
}

async fn postgres_snapshot(db: &DatabaseConnection) -> Vec<String> {
    let mut lines = Vec::new();
    // Every relation of the schema: tables, indexes, sequences (identity columns own one).
    for line in rows(
        db,
        &format!(
            "SELECT c.relname::text AS name, c.relkind::text AS kind FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname NOT LIKE '{BOOKKEEPING}%'"
        ),
        &["name", "kind"],
    )
    .await
    {
        lines.push(format!("object {line}"));
    }
    // Column order is part of the schema: the position among the live columns (attnum
    // keeps gaps after a drop, which a fresh schema would not have).
    for line in rows(
        db,
        &format!(
            "SELECT table_name::text AS tbl, \
                    (row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position))::bigint AS pos, \
                    column_name::text AS col, data_type::text AS type, \
                    coalesce(character_maximum_length::text, '') AS len, is_nullable::text AS nullable, \
                    column_default::text AS dflt, is_identity::text AS ident, \
                    coalesce(identity_generation::text, '') AS gen, coalesce(collation_name::text, '') AS coll \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '{BOOKKEEPING}'"
        ),
        &["tbl", "pos", "col", "type", "len", "nullable", "dflt", "ident", "gen", "coll"],
    )
    .await
    {
        lines.push(format!("column {line}"));
    }
    for line in rows(
        db,
        &format!(
            "SELECT tablename::text AS tbl, indexname::text AS idx, indexdef::text AS def FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename <> '{BOOKKEEPING}'"
        ),
        &["tbl", "idx", "def"],
    )
    .await
    {
        lines.push(format!("index {line}"));
    }
    for line in rows(
        db,
        &format!(
            "SELECT c.conrelid::regclass::text AS tbl, c.conname::text AS name, c.contype::text AS kind, \
                    pg_get_constraintdef(c.oid) AS def \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = current_schema() AND c.conrelid::regclass::text <> '{BOOKKEEPING}'"
        ),
        &["tbl", "name", "kind", "def"],
    )
    .await
    {
        lines.push(format!("constraint {line}"));
    }
    // Triggers and the functions they run (the post counters').
    for line in rows(
        db,
        "SELECT t.tgrelid::regclass::text AS tbl, t.tgname::text AS name, pg_get_triggerdef(t.oid) AS def \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
        &["tbl", "name", "def"],
    )
    .await
    {
        lines.push(format!("trigger {line}"));
    }
    for line in rows(
        db,
        "SELECT p.proname::text AS name, pg_get_functiondef(p.oid) AS def \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = current_schema()",
        &["name", "def"],
    )
    .await
    {
        lines.push(format!("function {line}"));
    }
    lines
}

/// Tables of the schema, the bookkeeping one included.
async fn table_names(url: &str) -> Vec<String> {
    let db = relata::store::connect(url, 1)
        .await
        .expect("the database opens");
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence' ORDER BY name"
        }
        _ => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
    };
    let names = rows(&db, sql, &["name"]).await;
    db.close().await.ok();
    names
}

/// Shows how two snapshots differ, line by line.
fn difference(expected: &[String], found: &[String]) -> String {
    let expected: BTreeSet<&String> = expected.iter().collect();
    let found: BTreeSet<&String> = found.iter().collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    format!("missing: {missing:#?}\nextra: {extra:#?}")
}

#[track_caller]
fn assert_same_schema(expected: &[String], found: &[String], when: &str) {
    assert!(
        expected == found,
        "{when}: the schema differs\n{}",
        difference(expected, found)
    );
}

/// A little of everything: users, profiles, posts, comments, roles, follows, tags.
fn seed(dir: &Path, url: &str) {
    relata_ok(
        dir,
        url,
        &[
            "seed",
            "--users",
            "20",
            "--posts-per-user",
            "3",
            "--comments-per-post",
            "2",
            "--quiet",
        ],
    );
}

/// The whole round trip on the database `url`, which is fresh:
/// 1. `relata migrate` → A; `relata migrate down 5` → only the bookkeeping table;
///    `relata migrate` → the same schema as A; the same again with rows in the tables.
/// 2. Then one step at a time, on a seeded database: each migration applied alone (through the library, which
///    the binary cannot do) gives a reference schema, and each `relata migrate down` must
///    come back to the reference schema of the step before.
async fn migrating_down_and_up_again_restores_the_schema_exactly(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let count = relata::migration::Migrator::migrations().len();
    assert_eq!(count, 5, "this test knows five migrations");

    relata_ok(dir.path(), url, &["migrate"]);
    let a = schema_snapshot(url).await;
    assert!(a.len() > 50, "a whole schema: {a:#?}");

    let out = relata_ok(dir.path(), url, &["migrate", "down", "5"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "rolled back m0005_counters_per_statement",
            "rolled back m0004_post_counts",
            "rolled back m0003_sessions",
            "rolled back m0002_relations",
            "rolled back m0001_init"
        ],
        "{out}"
    );
    assert_eq!(table_names(url).await, [BOOKKEEPING]);
    assert_same_schema(&[], &schema_snapshot(url).await, "after migrate down 5");
    let status = relata_ok(dir.path(), url, &["migrate", "status"]);
    assert_eq!(
        status.lines().filter(|l| l.starts_with("pending")).count(),
        count,
        "{status}"
    );

    relata_ok(dir.path(), url, &["migrate"]);
    let b = schema_snapshot(url).await;
    assert_same_schema(&a, &b, "migrate, down 5, migrate again");
    let status = relata_ok(dir.path(), url, &["migrate", "status"]);
    assert_eq!(
        status.lines().filter(|l| l.starts_with("applied")).count(),
        count,
        "{status}"
    );

    // With rows in every table, so that a `down` that only works on empty tables fails.
    seed(dir.path(), url);
    relata_ok(dir.path(), url, &["migrate", "down", "5"]);
    relata_ok(dir.path(), url, &["migrate"]);
    assert_same_schema(
        &a,
        &schema_snapshot(url).await,
        "down 5 with rows, migrate again",
    );

    // One step at a time.
    relata_ok(dir.path(), url, &["migrate", "down", "5"]);
    let mut after_step = vec![schema_snapshot(url).await];
    {
        let db = relata::store::connect(url, 1)
            .await
            .expect("the database opens");
        for _ in 0..count {
            relata::migration::Migrator::up(&db, Some(1))
                .await
                .expect("one migration applies");
            after_step.push(schema_snapshot(url).await);
        }
        db.close().await.ok();
    }
    assert_same_schema(&a, &after_step[count], "each migration applied alone");
    seed(dir.path(), url);
    for step in (0..count).rev() {
        let out = relata_ok(dir.path(), url, &["migrate", "down"]);
        assert_eq!(out.lines().count(), 1, "one migration rolled back: {out}");
        assert_same_schema(
            &after_step[step],
            &schema_snapshot(url).await,
            &format!("rolling back migration {} ({})", step + 1, out.trim()),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_down_undoes_each_migration_exactly_and_up_again_restores_the_schema_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("relata.db"));
    migrating_down_and_up_again_restores_the_schema_exactly(&url).await;
}

/// The PostgreSQL halves: each runs on a database of its own, created from
/// `TEST_DATABASE_URL` and dropped afterwards.
mod postgres {
    use super::*;

    const NEEDS_POSTGRES: &str =
        "TEST_DATABASE_URL must name a PostgreSQL server to run the PostgreSQL tests";

    /// A database created for one test, dropped (connections and all) when it ends.
    struct FreshDatabase {
        admin_url: String,
        name: String,
        url: String,
    }

    impl FreshDatabase {
        async fn create() -> FreshDatabase {
            let admin_url = std::env::var("TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .expect(NEEDS_POSTGRES);
            let name = format!(
                "relata_ops_{}_{}",
                std::process::id(),
                relata::jwt::random_hex(4)
            );
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL answers");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("creating the test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            FreshDatabase {
                admin_url,
                name,
                url: url.to_string(),
            }
        }
    }

    impl Drop for FreshDatabase {
        fn drop(&mut self) {
            let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
            // Its own thread and runtime: this also runs while a test's runtime unwinds.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let db = sea_orm::Database::connect(&admin_url).await.ok()?;
                    db.execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .await
                    .ok()
                })
            })
            .join();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
    async fn migrate_down_undoes_each_migration_exactly_and_up_again_restores_the_schema_postgres()
    {
        let database = FreshDatabase::create().await;
        migrating_down_and_up_again_restores_the_schema_exactly(&database.url).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
    async fn backup_on_postgres_copies_nothing_and_prints_a_pg_dump_command_that_works_postgres() {
        let database = FreshDatabase::create().await;
        let dir = tempfile::tempdir().unwrap();
        relata_ok(dir.path(), &database.url, &["migrate"]);
        let dump = dir.path().join("relata.dump");

        // A password in the URL is left out of what is printed.
        let mut with_password = url::Url::parse(&database.url).unwrap();
        with_password.set_password(Some("s3cret-pw")).unwrap();
        let out = relata(
            dir.path(),
            with_password.as_str(),
            &["backup", dump.to_str().unwrap()],
        );
        let printed = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{printed}{}", stderr(&out));
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("PGPASSWORD"), "{printed}");
        assert!(!dump.exists(), "nothing is copied");

        let out = relata(
            dir.path(),
            &database.url,
            &["backup", dump.to_str().unwrap()],
        );
        let printed = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{printed}{}", stderr(&out));
        let command = printed
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("pg_dump "))
            .unwrap_or_else(|| panic!("a pg_dump command line in {printed}"));
        assert_eq!(
            command,
            format!(
                "pg_dump --format=custom --file '{}' '{}'",
                dump.display(),
                database.url
            )
        );
        assert!(
            printed.lines().any(|l| l.trim().starts_with("pg_restore ")),
            "{printed}"
        );

        // The printed command is one an operator can paste: run it as it stands.
        if Command::new("pg_dump").arg("--version").output().is_err() {
            eprintln!("SKIPPED running the printed command: no pg_dump on PATH");
            return;
        }
        let ran = Command::new("sh")
            .args(["-c", command])
            .output()
            .expect("sh runs");
        assert!(ran.status.success(), "{command}: {}", stderr(&ran));
        let listed = Command::new("pg_restore")
            .args(["--list", dump.to_str().unwrap()])
            .output()
            .expect("pg_restore runs");
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains("TABLE public posts"),
            "{}",
            stderr(&listed)
        );
    }
}
