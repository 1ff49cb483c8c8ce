//! The direct PostgreSQL read executor: reads through tokio-postgres on one pooled
//! connection per request, with each connection's statements prepared once.
//!
//! Through SeaORM and sqlx a read cost about four times the client CPU of the same read
//! on the direct SQLite executor (bench/README.md, "Designs tried"): a pool checkout per
//! statement, and each row copied into SeaORM's `QueryResult` before it was decoded.
//! Here a request checks out one connection on its first statement and keeps it; the
//! statements a request runs concurrently (`futures::join`) are pipelined on it; rows are
//! decoded straight from the wire format. Parameters are sent with the types sqlx sends
//! for the same sea-query values, so PostgreSQL plans the same statements the same way.
//! Writes stay on SeaORM.
//!
//! A URL that tokio-postgres cannot read as it is (an option only sqlx knows) or that
//! asks for TLS keeps the reads on SeaORM ([`PgReadPool::for_url`] answers `None`).
//!
//! With read replicas, a session's connection is taken from the pool of the server
//! [`Replicas`] chooses, and a statement that fails because its replica went away runs
//! again on the primary (see [`super::replica`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, DbErr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::Built;
use super::replica::{self, Replicas};
use super::row::Decoder;

/// Prepared statements a connection keeps before it forgets them all (the include
/// loader's shapes, per page size, and the lists' filter combinations).
const STATEMENT_CACHE: usize = 512;

/// A tokio-postgres error as SeaORM reports the same failure, so that `error::outage`
/// answers 503 for a database that cannot be reached or is shutting down, and 500 for
/// what is a bug here.
fn pg_err(err: tokio_postgres::Error) -> DbErr {
    let text = err.to_string();
    let outage = match err.as_db_error() {
        // (A full disk, 53100, is 507 through SeaORM; on a read it is a sort's temporary
        // file, and 503 "try again" serves the client as well.)
        Some(db) => crate::error::postgres_outage(db.code().code()).is_some(),
        // Without an SQLSTATE: the failures of the connection (tokio-postgres's own
        // wording), not those of our statements (a parameter, a column), which are bugs.
        None => {
            let connection = [
                "error communicating with the server",
                "unexpected message from server",
                "connection closed",
                "error parsing response from server",
                "error encoding message to server",
                "authentication error",
                "error connecting to server",
                "timeout waiting for server",
            ];
            connection.iter().any(|prefix| text.starts_with(prefix))
        }
    };
    let message = format!("postgres: {text}");
    if outage {
        DbErr::Conn(sea_orm::RuntimeErr::Internal(message))
    } else {
        DbErr::Custom(message)
    }
}

/// Read connections to one PostgreSQL database, at most as many as SeaORM's pool.
pub struct PgReadPool {
    config: Config,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// A statement's text and the types its parameters are declared with.
type StatementKey = (Arc<str>, Vec<Type>);

/// A connection and the statements prepared on it. Every statement is looked up here by
/// its whole text, so the map hashes with foldhash: SipHash over the text cost an S4
/// request about 5 600 instructions. The texts are our own (sea-query's rendering of the
/// loader's and the lists' statements; values are bound, never in the text), so a client
/// cannot make them collide, and at most `STATEMENT_CACHE` are kept.
struct Connection {
    client: Client,
    prepared: Mutex<foldhash::HashMap<StatementKey, Statement>>,
}

impl PgReadPool {
    /// A pool for `url`, or `None` when tokio-postgres without TLS cannot serve it the
    /// way sqlx does (then reads stay on SeaORM).
    pub fn for_url(url: &str, max_connections: u32) -> Option<Self> {
        let mut config = match crate::store::connect::direct_pg_config(url) {
            Ok(config) => config,
            Err(why) => {
                tracing::info!("reads go through SeaORM: {why} (DATABASE_URL)");
                return None;
            }
        };
        if config.get_connect_timeout().is_none() {
            // As SeaORM's pool (db.rs): a database that does not answer is a 503 soon.
            config.connect_timeout(Duration::from_secs(10));
        }
        Some(PgReadPool {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
        })
    }

    /// One request's reads; its connection is checked out on its first statement, from
    /// this pool or, when `replicas` has a usable one, from a replica's.
    pub fn session(self: &Arc<Self>, replicas: Option<&Arc<ReplicaPools>>) -> Session {
        Session {
            pool: Arc::clone(self),
            replicas: replicas.cloned(),
            held: tokio::sync::OnceCell::new(),
            fallback: tokio::sync::OnceCell::new(),
        }
    }

    /// A connection of this pool held by a session; `replica` says which one this pool
    /// serves (`None`: the primary).
    pub(super) async fn hold(self: &Arc<Self>, replica: Option<usize>) -> Result<Box<Held>, DbErr> {
        let (conn, permit) = self.checkout().await?;
        Ok(Box::new(Held {
            pool: Arc::clone(self),
            conn,
            permit,
            replica,
            broken: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    async fn checkout(&self) -> Result<(Connection, OwnedSemaphorePermit), DbErr> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| DbErr::Custom("the read pool is closed".into()))?;
        loop {
            let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
            match idle {
                Some(conn) if conn.client.is_closed() => continue,
                Some(conn) => return Ok((conn, permit)),
                None => break,
            }
        }
        let (client, connection) = self.config.connect(NoTls).await.map_err(pg_err)?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::warn!(%err, "a PostgreSQL read connection ended");
            }
        });
        Ok((
            Connection {
                client,
                prepared: Mutex::new(foldhash::HashMap::default()),
            },
            permit,
        ))
    }
}

/// The read pools of the replicas, beside the [`Replicas`] that choose among them.
pub struct ReplicaPools {
    chooser: Arc<Replicas>,
    /// By replica, in order.
    pools: Vec<Arc<PgReadPool>>,
}

impl ReplicaPools {
    /// A pool of `max_connections` per replica, each giving up connecting soon (the
    /// primary is there to read on instead).
    pub fn new(chooser: Arc<Replicas>, max_connections: u32) -> Self {
        let pools = chooser
            .urls()
            .map(|url| {
                let mut pool = PgReadPool::for_url(url, max_connections)
                    .expect("Replicas::start refuses a URL the direct executor cannot serve");
                pool.config.connect_timeout(replica::CONNECT_TIMEOUT);
                Arc::new(pool)
            })
            .collect();
        ReplicaPools { chooser, pools }
    }

    /// The replicas and their state.
    pub fn chooser(&self) -> &Arc<Replicas> {
        &self.chooser
    }
}

/// One request's reads on a pooled connection, which goes back to its pool when the
/// session is dropped.
pub struct Session {
    /// The primary's pool.
    pool: Arc<PgReadPool>,
    replicas: Option<Arc<ReplicaPools>>,
    // (Boxed, so that a `Reader` stays small.)
    held: tokio::sync::OnceCell<Box<Held>>,
    /// The primary's connection, once a replica failed under this session.
    fallback: tokio::sync::OnceCell<Box<Held>>,
}

/// A connection checked out of `pool`, which it goes back to unless `broken`.
pub(super) struct Held {
    pool: Arc<PgReadPool>,
    conn: Connection,
    permit: OwnedSemaphorePermit,
    replica: Option<usize>,
    /// A statement on it failed or timed out: it may be half-way through an answer.
    broken: std::sync::atomic::AtomicBool,
}

impl Drop for Session {
    fn drop(&mut self) {
        for held in [self.held.take(), self.fallback.take()]
            .into_iter()
            .flatten()
        {
            let Held {
                pool,
                conn,
                permit,
                broken,
                ..
            } = *held;
            if !broken.into_inner()
                && !conn.client.is_closed()
                && let Ok(mut idle) = pool.idle.lock()
            {
                idle.push(conn);
            }
            // The permit goes back after the connection, so the next checkout finds it.
            drop(permit);
        }
    }
}

impl Session {
    /// Runs `built`, decodes every row, and reports the statement.
    pub async fn all<D: Decoder>(&self, built: &Built, decoder: &D) -> Result<Vec<D::Out>, DbErr> {
        let started = Instant::now();
        let result = self.run(built, decoder).await;
        built.record(DbBackend::Postgres, started.elapsed(), result.is_err());
        result
    }

    async fn run<D: Decoder>(&self, built: &Built, decoder: &D) -> Result<Vec<D::Out>, DbErr> {
        // What runs once per session (the opening), or only with replicas, is boxed: as
        // part of this future it would size every read's future, which is moved as it
        // is polled and boxed (bench/README.md, "Profile of the common path").
        let held = match self.fallback.get() {
            Some(fallback) => fallback,
            None => self.held.get_or_try_init(|| Box::pin(self.open())).await?,
        };
        let (Some(replica), Some(replicas)) = (held.replica, &self.replicas) else {
            return held.conn.query(built, decoder).await;
        };
        let chooser = &replicas.chooser;
        if let Some(answer) =
            Box::pin(chooser.guard(replica, held.conn.query(built, decoder))).await
        {
            return answer;
        }
        // The replica went away under the statement: the primary answers it, and the
        // rest of the session (it is at least as recent as the replica was asked to be).
        held.broken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let fallback = self
            .fallback
            .get_or_try_init(|| Box::pin(self.pool.hold(None)))
            .await?;
        Box::pin(fallback.conn.query(built, decoder)).await
    }

    /// The session's connection: on the replica [`Replicas::choose`] names, else (or
    /// when that replica cannot be reached) on the primary.
    async fn open(&self) -> Result<Box<Held>, DbErr> {
        if let Some(replicas) = &self.replicas
            && let Some(replica) = replicas.chooser.choose().await
            && let Some(pool) = replicas.pools.get(replica)
        {
            match pool.hold(Some(replica)).await {
                Ok(held) => return Ok(held),
                Err(err) => replicas.chooser.failed(replica, &err),
            }
        }
        self.pool.hold(None).await
    }
}

impl Connection {
    /// Runs `built` on this connection and decodes every row.
    async fn query<D: Decoder>(&self, built: &Built, decoder: &D) -> Result<Vec<D::Out>, DbErr> {
        let conn = self;
        let types = built
            .values
            .0
            .iter()
            .map(param_type)
            .collect::<Result<Vec<_>, _>>()?;
        let statement = conn.statement(&built.sql, types).await?;
        let params: Vec<Bound<'_>> = built.values.0.iter().map(Bound).collect();
        let rows = conn
            .client
            .query_raw(&statement, params.iter())
            .await
            .map_err(pg_err)?;
        futures::pin_mut!(rows);
        let mut out = Vec::new();
        while let Some(row) = futures::TryStreamExt::try_next(&mut rows)
            .await
            .map_err(pg_err)?
        {
            out.push(decoder.decode(&row)?);
        }
        Ok(out)
    }
}

impl Connection {
    /// `sql` prepared on this connection with these parameter types, once.
    async fn statement(&self, sql: &Arc<str>, types: Vec<Type>) -> Result<Statement, DbErr> {
        let key = (Arc::clone(sql), types);
        if let Some(found) = self.prepared.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(found);
        }
        // Boxed: a statement is prepared once per connection, and the preparing future
        // would otherwise size every statement's.
        let statement = Box::pin(self.client.prepare_typed(sql, &key.1))
            .await
            .map_err(pg_err)?;
        if let Ok(mut prepared) = self.prepared.lock() {
            if prepared.len() >= STATEMENT_CACHE {
                // Dropping a `Statement` closes it on the server.
                prepared.clear();
            }
            prepared.insert(key, statement.clone());
        }
        Ok(statement)
    }
}

/// The type sqlx declares for a sea-query value (through sea-query-sqlx), so that a
/// statement means the same on both executors.
fn param_type(value: &Value) -> Result<Type, DbErr> {
    Ok(match value {
        Value::Bool(_) => Type::BOOL,
        Value::TinyInt(_) | Value::SmallInt(_) | Value::TinyUnsigned(_) => Type::INT2,
        Value::Int(_) | Value::SmallUnsigned(_) => Type::INT4,
        // PostgreSQL has no unsigned types; sea-query gives `LIMIT` and `OFFSET` as u64.
        Value::BigInt(_) | Value::Unsigned(_) | Value::BigUnsigned(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::String(_) | Value::Char(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        Value::ChronoDateTimeUtc(_) => Type::TIMESTAMPTZ,
        other => {
            return Err(DbErr::Custom(format!(
                "no direct PostgreSQL binding for {other:?}"
            )));
        }
    })
}

/// A sea-query value sent as the type [`param_type`] declared for it.
#[derive(Debug)]
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        fn put<T: ToSql>(
            v: &Option<T>,
            ty: &Type,
            out: &mut BytesMut,
        ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
            match v {
                Some(v) => v.to_sql(ty, out),
                None => Ok(IsNull::Yes),
            }
        }
        match self.0 {
            Value::Bool(v) => put(v, ty, out),
            Value::TinyInt(v) => put(&v.map(i16::from), ty, out),
            Value::SmallInt(v) => put(v, ty, out),
            Value::Int(v) => put(v, ty, out),
            Value::BigInt(v) => put(v, ty, out),
            Value::TinyUnsigned(v) => put(&v.map(i16::from), ty, out),
            Value::SmallUnsigned(v) => put(&v.map(i32::from), ty, out),
            Value::Unsigned(v) => put(&v.map(i64::from), ty, out),
            Value::BigUnsigned(v) => put(&v.map(i64::try_from).transpose()?, ty, out),
            Value::Float(v) => put(v, ty, out),
            Value::Double(v) => put(v, ty, out),
            Value::String(v) => put(v, ty, out),
            Value::Char(v) => put(&v.map(|c| c.to_string()), ty, out),
            Value::Bytes(v) => put(v, ty, out),
            Value::ChronoDateTimeUtc(v) => put(v, ty, out),
            other => Err(format!("no direct PostgreSQL binding for {other:?}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The statement was prepared with the type `param_type` gives this very value.
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_only_sqlx_or_tls_can_serve_keeps_reads_on_seaorm() {
        let plain = "postgres://postgres@127.0.0.1:5432/relata";
        assert!(PgReadPool::for_url(plain, 10).is_some());
        assert!(PgReadPool::for_url(&format!("{plain}?sslmode=disable"), 10).is_some());
        assert!(PgReadPool::for_url(&format!("{plain}?sslmode=require"), 10).is_none());
        assert!(PgReadPool::for_url(&format!("{plain}?statement-cache-capacity=5"), 10).is_none());
    }

    #[test]
    fn values_are_declared_as_sqlx_declares_them() {
        let cases = [
            (Value::BigUnsigned(Some(1)), Type::INT8),
            (Value::BigInt(None), Type::INT8),
            (Value::Int(Some(1)), Type::INT4),
            (Value::String(Some("a".into())), Type::TEXT),
            (Value::Bool(Some(true)), Type::BOOL),
            (Value::ChronoDateTimeUtc(None), Type::TIMESTAMPTZ),
        ];
        for (value, ty) in cases {
            assert_eq!(param_type(&value).unwrap(), ty, "{value:?}");
            let mut out = BytesMut::new();
            Bound(&value).to_sql(&ty, &mut out).unwrap();
        }
        // A u64 beyond i64 is an error, not a wrapped negative number.
        let mut out = BytesMut::new();
        assert!(
            Bound(&Value::BigUnsigned(Some(u64::MAX)))
                .to_sql(&Type::INT8, &mut out)
                .is_err()
        );
    }
}
