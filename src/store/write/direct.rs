//! SQLite's write connection: one connection per process, owned by the write gate, on
//! which write units run their statements through SQLite's C library on the request's own
//! task, as the reads do (`read/direct.rs`). sqlx-sqlite ran each statement on a worker
//! thread and handed the result back over channels, a thread switch and a futex wake per
//! statement: under S5 (`POST /api/v1/posts`) two thirds of the CPU went to the kernel
//! (bench/README.md, "Issue 25: SQLite writes without a hand-off").
//!
//! The connection is opened with the pool's settings (`read::direct::open_connection`)
//! and steps every statement to its end, so an autocommit write's commit, and its failure
//! (a full disk), is seen before the statement returns. Its errors read as sqlx-sqlite's
//! (`read::direct::lite_err`), so they map to the same statuses. Transactions begin
//! `IMMEDIATE`: the write lock is taken (or waited for, within the busy timeout) by
//! `BEGIN`, never by a later statement, which another process's writer could otherwise
//! make fail at once. Inside one process the gate means the connection never waits for
//! the lock; a write that waits for another process's (a restart's overlap, a `relata`
//! command) waits within the busy timeout on the request's thread, where sqlx's worker
//! thread waited before.
//!
//! SeaORM runs on it unchanged: [`super::Writer`] hands it each statement SeaORM builds,
//! and the rows go back to SeaORM as rows of typed values by column name ([`seaorm_rows`]).
//! A column takes the type of the entity column of that name (`i32`, `bool`, timestamps;
//! see [`kind_of`]), any other follows SQLite's storage class (integer → `i64`, text →
//! `String`). Such rows are read by name; read by position they come in name order, so a
//! write that reads columns by position (`into_tuple`) reads through `Writer::read`
//! instead, which decodes by position.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sea_orm::sea_query::Value;
use sea_orm::{
    ColumnTrait, ColumnType, DbBackend, DbErr, EntityTrait, ExecResult, IdenStatic, Iterable,
    MockDatabase, MockDatabaseTrait, MockExecResult, QueryResult, Statement, Values,
};

use crate::store::read::Column;
use crate::store::read::direct::{OwnConnection, lite_err, step};

/// The write connection of one SQLite file, opened at its first write. The gate (a
/// tokio mutex around it) lets one write unit use it at a time.
pub struct WriteConn {
    conn: OwnConnection,
}

impl WriteConn {
    pub(in crate::store) fn new(path: &Path) -> Self {
        WriteConn {
            conn: OwnConnection::new(path),
        }
    }

    /// The connection, for the reads inside a write (`Writer::read`).
    pub(in crate::store) fn reads(&self) -> &OwnConnection {
        &self.conn
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        self.conn.with(f)
    }

    /// Transaction control (`BEGIN IMMEDIATE`, `COMMIT`): not counted as a statement, as
    /// SeaORM does not count its own.
    fn control(&self, sql: &str) -> Result<(), DbErr> {
        self.with(|conn| {
            conn.prepare_cached(sql)
                .and_then(|mut s| s.raw_execute())
                .map(drop)
                .map_err(lite_err)
        })
    }

    /// Whether a transaction is open on the connection (SQLite's own answer).
    pub(in crate::store) fn in_transaction(&self) -> Result<bool, DbErr> {
        self.with(|conn| Ok(!conn.is_autocommit()))
    }

    pub(in crate::store) fn begin(&self) -> Result<(), DbErr> {
        self.control("BEGIN IMMEDIATE")
    }

    pub(in crate::store) fn commit(&self) -> Result<(), DbErr> {
        self.control("COMMIT")
    }

    /// Rolls back a transaction left open (a unit dropped before its commit, or a commit
    /// that failed); a connection that cannot roll back is closed, so the next unit
    /// starts on a fresh one and nothing half-done is ever committed.
    pub(in crate::store) fn end(&self) {
        let Ok(mut slot) = self.conn.slot() else {
            return;
        };
        let open = slot.as_ref().is_some_and(|conn| !conn.is_autocommit());
        if open {
            let rolled_back = slot
                .as_ref()
                .is_some_and(|conn| conn.execute_batch("ROLLBACK").is_ok());
            if !rolled_back {
                *slot = None;
            }
        }
    }

    /// Runs `stmt`, reporting it to the request's counter.
    pub(in crate::store) fn execute(&self, stmt: &Statement) -> Result<ExecResult, DbErr> {
        let started = Instant::now();
        let result = self.with(|conn| {
            step(conn, &stmt.sql, values(stmt), |_| Ok(()))?;
            seaorm_exec_result(MockExecResult {
                last_insert_id: conn.last_insert_rowid() as u64,
                rows_affected: conn.changes(),
            })
        });
        record(stmt, started, result.is_err());
        result.map_err(as_exec)
    }

    /// Runs SQL text that binds nothing (`ConnectionTrait::execute_unprepared`).
    pub(in crate::store) fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(&Statement::from_string(DbBackend::Sqlite, sql))
    }

    /// Every row of `stmt`, as SeaORM rows, reporting it to the request's counter.
    pub(in crate::store) fn query(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let started = Instant::now();
        let result = self.with(|conn| {
            let mut names: Option<Vec<(String, Option<Kind>)>> = None;
            let rows = step(conn, &stmt.sql, values(stmt), |row| {
                let names = names.get_or_insert_with(|| {
                    row.as_ref()
                        .column_names()
                        .into_iter()
                        .map(|name| (name.to_string(), kind_of(name)))
                        .collect()
                });
                let mut values = BTreeMap::new();
                for (i, (name, kind)) in names.iter().enumerate() {
                    let value = row.get_ref(i).map_err(lite_err)?;
                    values.insert(name.clone(), typed(*kind, value)?);
                }
                Ok(values)
            })?;
            seaorm_rows(rows)
        });
        record(stmt, started, result.is_err());
        result
    }
}

/// SeaORM's rows made of `rows`. SeaORM makes a `QueryResult` only in its drivers; of
/// those, the mock database is the one that takes rows of values, and it hands them back
/// as they are (it keeps nothing else: a fresh one per statement, with an empty statement
/// for its log).
fn seaorm_rows(rows: Vec<BTreeMap<String, Value>>) -> Result<Vec<QueryResult>, DbErr> {
    MockDatabase::new(DbBackend::Sqlite)
        .append_query_results([rows])
        .query(0, Statement::from_string(DbBackend::Sqlite, String::new()))
}

/// SeaORM's result of a statement that changed `result.rows_affected` rows, as
/// [`seaorm_rows`] makes its rows.
fn seaorm_exec_result(result: MockExecResult) -> Result<ExecResult, DbErr> {
    MockDatabase::new(DbBackend::Sqlite)
        .append_exec_results([result])
        .execute(0, Statement::from_string(DbBackend::Sqlite, String::new()))
}

fn values(stmt: &Statement) -> &Values {
    static NONE: Values = Values(Vec::new());
    stmt.values.as_ref().unwrap_or(&NONE)
}

fn record(stmt: &Statement, started: Instant, failed: bool) {
    crate::store::record_statement(started.elapsed(), failed, || stmt.clone());
}

/// A failed `execute` is `DbErr::Exec`, as SeaORM reports it.
fn as_exec(err: DbErr) -> DbErr {
    match err {
        DbErr::Query(runtime) => DbErr::Exec(runtime),
        other => other,
    }
}

/// What an entity column's values are in SeaORM, where SQLite's storage class does not
/// say it: an `i32`, a `bool`, a timestamp; `Plain` is what the storage class says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int32,
    Bool,
    Time,
    Plain,
}

/// The kind of the entity column called `name`; `None` for a name no entity has (an
/// alias, a count). SeaORM prefixes the columns of a joined entity (`A_id`); the prefix
/// is set aside.
fn kind_of(name: &str) -> Option<Kind> {
    let kinds = entity_kinds();
    kinds.get(name).copied().or_else(|| {
        let bytes = name.as_bytes();
        match bytes {
            [first, b'_', ..] if first.is_ascii_uppercase() => kinds.get(&name[2..]).copied(),
            _ => None,
        }
    })
}

/// Every entity column by name (a name has one kind in every entity: a unit test checks).
fn entity_kinds() -> &'static HashMap<&'static str, Kind> {
    static KINDS: OnceLock<HashMap<&'static str, Kind>> = OnceLock::new();
    KINDS.get_or_init(|| entity_columns().into_iter().collect())
}

fn entity_columns() -> Vec<(&'static str, Kind)> {
    use crate::entity::*;
    let mut out = Vec::new();
    columns::<comment::Entity>(&mut out);
    columns::<favorite::Entity>(&mut out);
    columns::<follow::Entity>(&mut out);
    columns::<login_attempt::Entity>(&mut out);
    columns::<post::Entity>(&mut out);
    columns::<post_tag::Entity>(&mut out);
    columns::<profile::Entity>(&mut out);
    columns::<refresh_token::Entity>(&mut out);
    columns::<revoked_token::Entity>(&mut out);
    columns::<role::Entity>(&mut out);
    columns::<session_epoch::Entity>(&mut out);
    columns::<setting::Entity>(&mut out);
    columns::<tag::Entity>(&mut out);
    columns::<user::Entity>(&mut out);
    columns::<user_role::Entity>(&mut out);
    // The post counters (migration m0004) have no entity: triggers keep them, and their
    // columns are the 64-bit integers SQLite stores.
    out.extend(["slot", "posts", "favorites"].map(|name| (name, Kind::Plain)));
    out
}

fn columns<E: EntityTrait>(out: &mut Vec<(&'static str, Kind)>) {
    for column in E::Column::iter() {
        let kind = match column.def().get_column_type() {
            ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => Kind::Int32,
            ColumnType::Boolean => Kind::Bool,
            ColumnType::TimestampWithTimeZone | ColumnType::Timestamp | ColumnType::DateTime => {
                Kind::Time
            }
            _ => Kind::Plain,
        };
        out.push((column.as_str(), kind));
    }
}

/// A stored value as the SeaORM value its column's kind calls for, read as sqlx-sqlite
/// reads it (timestamps through the same parser as the read executor's).
fn typed(kind: Option<Kind>, value: ValueRef<'_>) -> Result<Value, DbErr> {
    Ok(match (kind, value) {
        (Some(Kind::Int32), ValueRef::Null) => Value::Int(None),
        (Some(Kind::Bool), ValueRef::Null) => Value::Bool(None),
        (Some(Kind::Time), ValueRef::Null) => Value::ChronoDateTimeUtc(None),
        // SeaORM reads a NULL of any type as `None`.
        (_, ValueRef::Null) => Value::BigInt(None),
        (Some(Kind::Int32), v) => Value::from(<i32 as Column>::from_sqlite(v)?),
        (Some(Kind::Bool), v) => Value::from(<bool as Column>::from_sqlite(v)?),
        (Some(Kind::Time), v) => {
            Value::from(<chrono::DateTime<chrono::Utc> as Column>::from_sqlite(v)?)
        }
        (_, ValueRef::Integer(n)) => Value::from(n),
        (_, ValueRef::Real(f)) => Value::from(f),
        (_, v @ ValueRef::Text(_)) => Value::from(<String as Column>::from_sqlite(v)?),
        (_, ValueRef::Blob(bytes)) => Value::from(bytes.to_vec()),
    })
}

/// Whether `name` is a column of a listed entity (a test checks that every column of the
/// schema is).
#[cfg(test)]
pub(in crate::store) fn is_entity_column(name: &str) -> bool {
    entity_kinds().contains_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_name_has_one_kind_in_every_entity() {
        let mut seen: HashMap<&str, Kind> = HashMap::new();
        for (name, kind) in entity_columns() {
            let first = *seen.entry(name).or_insert(kind);
            assert_eq!(
                first, kind,
                "column {name} has two kinds across the entities"
            );
        }
    }

    #[test]
    fn joined_columns_take_their_entity_column_kind() {
        assert_eq!(kind_of("position"), Some(Kind::Int32));
        assert_eq!(kind_of("A_is_active"), Some(Kind::Bool));
        assert_eq!(kind_of("B_created_at"), Some(Kind::Time));
        assert_eq!(kind_of("id"), Some(Kind::Plain));
        assert_eq!(kind_of("num_items"), None);
        assert_eq!(kind_of("a_id"), None);
    }
}
