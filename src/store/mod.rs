//! The store: everything about the database, in one place. It opens SQLite or
//! PostgreSQL ([`connect`]), holds the pools, the per-backend read executors
//! ([`read`]), statement building and caching ([`read::ShapeCache`], keyset pages in
//! [`page`]), row decoding, the statement counter ([`count`]), the SQLite write gate
//! and transactions ([`Writer`]).
//!
//! A request asks [`Store::db`] for its handle, [`Db`], and from it a *read unit*
//! ([`Db::read`]: one read transaction or connection, on the backend's direct executor)
//! or a *write unit* ([`Db::write`]: the gate, then autocommit or a transaction). Reading
//! borrows the handle and writing borrows it mutably, so a handler cannot hold a read
//! unit across a write: the compiler refuses it. (A read unit held across a write would
//! keep an old SQLite snapshot or a second PostgreSQL connection while the write waits;
//! reads that belong to a write go through [`Writer::read`].) Services take the units,
//! never the store:
//!
//! ```compile_fail,E0502
//! async fn both(store: &relata::store::Store) {
//!     let mut db = store.db();
//!     let reader = db.read().unwrap();
//!     let writer = db.write().await; // refused: `db` is borrowed by `reader`
//!     drop((reader, writer));
//! }
//! ```

mod connect;
mod count;
pub mod page;
pub mod read;
mod write;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::Mutex;

pub use connect::{
    connect, connect_configured, is_postgres, is_sqlite, migrate, pool_status, sqlite_file,
    sqlite_path,
};
#[cfg(feature = "bench-capture")]
pub use count::capturing_statements;
pub use count::{RequestStats, current_stats, record_statement, set_budget, with_stats};
pub use read::replica::{ReplicaStatus, Replicas};
pub use read::{OrmConn, Reader};
pub use write::Writer;

use read::direct::DirectPool;
use read::pg::{PgReadPool, ReplicaPools};

/// The database of one process: SeaORM's pool (writes, and reads when no direct
/// executor serves this database), the direct read pool, and the SQLite write gate.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Write units of this process take turns through it (SQLite only); it owns the
    /// write connection of a SQLite file.
    gate: Option<Arc<Mutex<write::Gate>>>,
    /// Read connections of the direct executor, if this database has one.
    direct: Option<DirectReads>,
}

/// The direct read executor of the database ([`read`]).
#[derive(Clone)]
enum DirectReads {
    Sqlite(Arc<DirectPool>),
    /// The primary's read pool, and the read replicas beside it, if any.
    Postgres(Arc<PgReadPool>, Option<Arc<ReplicaPools>>),
}

impl Store {
    /// The store of an open connection; `url` and `max_connections` size the direct
    /// PostgreSQL read pool as SeaORM's. `replicas` ([`Replicas::start`]) take the reads
    /// of a PostgreSQL database with direct reads.
    pub fn new(
        db: DatabaseConnection,
        url: &str,
        max_connections: u32,
        replicas: Option<Arc<Replicas>>,
    ) -> Self {
        let direct = match sqlite_file(&db) {
            Some(path) => Some(DirectReads::Sqlite(Arc::new(DirectPool::new(&path)))),
            None if is_postgres(&db) => PgReadPool::for_url(url, max_connections).map(|pool| {
                let replicas =
                    replicas.map(|set| Arc::new(ReplicaPools::new(set, max_connections)));
                DirectReads::Postgres(Arc::new(pool), replicas)
            }),
            None => None,
        };
        let write_conn = sqlite_file(&db).map(|path| write::direct::WriteConn::new(&path));
        Store {
            gate: is_sqlite(&db).then(|| Arc::new(Mutex::new(write_conn))),
            db,
            direct,
        }
    }

    /// The same store reading through SeaORM (the tests compare the executors).
    pub fn without_direct_reads(&self) -> Self {
        Store {
            direct: None,
            ..self.clone()
        }
    }

    /// A request's handle on the database.
    pub fn db(&self) -> Db<'_> {
        Db { store: self }
    }

    /// The read replicas, when reads go to them.
    pub fn replicas(&self) -> Option<&Arc<Replicas>> {
        match &self.direct {
            Some(DirectReads::Postgres(_, replicas)) => replicas.as_ref().map(|r| r.chooser()),
            _ => None,
        }
    }

    /// SeaORM's connection, for what is not a request: migrations, health probes, pool
    /// metrics and the operator commands.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn read(&self) -> Result<Reader<'_>, DbErr> {
        let reader = match &self.direct {
            Some(DirectReads::Sqlite(pool)) => Reader::Direct(pool.session()?),
            Some(DirectReads::Postgres(pool, replicas)) => {
                Reader::Pg(pool.session(replicas.as_ref()))
            }
            None => return Ok(Reader::Orm(OrmConn::Pool(&self.db))),
        };
        count::read_unit(true);
        Ok(reader)
    }

    async fn write(&self) -> Writer<'_> {
        // The types keep a handle's read unit from outliving its write; a second handle
        // would get around them, and the tests (debug builds) would stop here.
        debug_assert_eq!(
            count::reads_open(),
            0,
            "a write unit asked for while a read unit of the same request is open"
        );
        // What this request reads from now on must include what it is about to write.
        count::forget_wal_target();
        let gate = match &self.gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        Writer::new(&self.db, gate)
    }
}

/// One request's handle on the [`Store`]: read units borrow it, write units borrow it
/// mutably, so the two never overlap. Take one per request (`state.db()`), and name it
/// `db`.
pub struct Db<'s> {
    store: &'s Store,
}

impl Db<'_> {
    /// The database this handle reads and writes.
    pub fn backend(&self) -> DbBackend {
        self.store.db.get_database_backend()
    }

    /// A read unit: on SQLite one read transaction (every statement sees one snapshot),
    /// on PostgreSQL one pooled connection, taken at its first statement.
    pub fn read(&self) -> Result<Reader<'_>, DbErr> {
        self.store.read()
    }

    /// A write unit, once this process's write gate is free (SQLite).
    pub async fn write(&mut self) -> Writer<'_> {
        self.store.write().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn file_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect(&url, 2).await.expect("a SQLite file");
        Store::new(db, &url, 2, None)
    }

    #[tokio::test]
    async fn a_handle_gives_a_write_unit_once_its_read_unit_ended() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = file_store(&dir).await;
        with_stats(async {
            let mut db = store.db();
            let reader = db.read().expect("a read unit");
            assert!(matches!(reader, Reader::Direct(_)));
            drop(reader);
            let writer = db.write().await;
            writer.commit().await.expect("nothing to commit");
        })
        .await;
    }

    /// The statement that reads every user's id.
    fn user_ids() -> sea_orm::sea_query::SelectStatement {
        sea_orm::sea_query::Query::select()
            .column(crate::entity::user::Column::Id)
            .from(crate::entity::user::Entity)
            .to_owned()
    }

    /// A user as a service would insert one.
    fn new_user(name: &str) -> crate::entity::user::ActiveModel {
        use sea_orm::Set;
        let now = crate::time::now();
        crate::entity::user::ActiveModel {
            username: Set(name.to_string()),
            email: Set(format!("{name}@example.com")),
            password_hash: Set("x".to_string()),
            display_name: Set(None),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_write_unit_on_a_sqlite_file_runs_seaorm_on_the_write_connection() {
        use crate::entity::user;
        use sea_orm::{ActiveModelTrait, EntityTrait};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = file_store(&dir).await;
        migrate(store.connection()).await.expect("migrations");
        let ((), stats) = with_stats(async {
            let mut db = store.db();
            let writer = db.write().await.begin().await.expect("a transaction");
            let alice = new_user("alice").insert(&writer).await.expect("an insert");
            assert!(alice.is_active && alice.display_name.is_none());
            // The unit's reads see its own uncommitted row, by name and by position.
            let found = user::Entity::find_by_id(alice.id)
                .one(&writer)
                .await
                .unwrap();
            assert_eq!(found.as_ref(), Some(&alice));
            let ids: Vec<i64> = writer.read().all(&user_ids()).await.unwrap();
            assert_eq!(ids, [alice.id]);
            // A unique violation reads as the services expect it.
            let twice = new_user("alice").insert(&writer).await.unwrap_err();
            assert_eq!(
                crate::error::unique_violation(&twice).as_deref(),
                Some("UNIQUE constraint failed: index 'ux_users_username_lower'")
            );
            // Dropped without its commit, the unit rolls back; the next one sees nothing.
            drop(writer);
            let writer = db.write().await;
            assert!(user::Entity::find().all(&writer).await.unwrap().is_empty());
            let bob = new_user("bob")
                .insert(&writer)
                .await
                .expect("an autocommit insert");
            writer.commit().await.expect("nothing to commit");
            let reader = db.read().unwrap();
            let ids: Vec<i64> = reader.all(&user_ids()).await.unwrap();
            assert_eq!(ids, [bob.id]);
        })
        .await;
        // Every statement counted (insert, find, read, failed insert, find, insert, read),
        // transaction control not.
        assert_eq!(stats.statements(), 7);
    }

    #[tokio::test]
    async fn the_write_connection_knows_every_column_of_the_schema() {
        use sea_orm::{ConnectionTrait, Statement};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = file_store(&dir).await;
        migrate(store.connection()).await.expect("migrations");
        // A column it does not know would reach SeaORM as its storage class says (an
        // i64, a string), not as its entity's type (an i32, a bool, a timestamp).
        let columns = store
            .connection()
            .query_all_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> 'seaql_migrations'",
            ))
            .await
            .expect("the schema");
        assert!(!columns.is_empty());
        for row in columns {
            let name: String = row.try_get_by_index(0).expect("a column name");
            assert!(
                write::direct::is_entity_column(&name),
                "column {name} belongs to no entity listed in store/write/direct.rs"
            );
        }
    }

    #[tokio::test]
    #[should_panic(expected = "a write unit asked for while a read unit")]
    async fn a_second_handle_cannot_write_under_an_open_read_unit() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = file_store(&dir).await;
        with_stats(async {
            let db = store.db();
            let _reader = db.read().expect("a read unit");
            let mut other = store.db();
            let _writer = other.write().await;
        })
        .await;
    }
}
