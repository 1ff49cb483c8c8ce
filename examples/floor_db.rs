//! The benchmark's database floor: the statements one request runs, replayed as fast as
//! the database's own client library allows, without HTTP, the ORM or a pool.
//!
//! ```text
//! DATABASE_URL=… floor_db --method GET --path '/api/v1/posts?limit=20' \
//!     [--token T] [--body JSON] [--tasks 16,64] [--seconds 3] [--threads N] \
//!     [--pg-connections 32] [--sql-out FILE]
//! ```
//!
//! 1. Capture: the request goes once through Relata's own router, in process, inside
//!    [`relata::store::capturing_statements`] (the `bench-capture` feature), which records
//!    every statement (SQL and bound values) that the per-statement hook sees. The answer
//!    must be 2xx and its `X-Query-Count` must equal the number captured.
//! 2. Replay on SQLite: through SQLite's C API (rusqlite), one thread per core
//!    (`--threads`, default: the cores), each with its own connection opened like
//!    Relata's (WAL, `synchronous=NORMAL`, foreign keys, busy timeout, 256 MiB
//!    `mmap_size`) and the set's statements prepared once. Each set binds the captured
//!    values and steps every row, reading every column; each statement in autocommit
//!    (Relata wraps a write in BEGIN/COMMIT, which the floor leaves out: it is a floor).
//!    `--tasks` does not apply: a thread per core is what the machine allows.
//! 3. Replay on PostgreSQL: for each `--tasks` N, N tokio tasks, each on its own
//!    connection (tokio-postgres; up to `--pg-connections`, beyond which tasks share
//!    connections round-robin, so the run stays under the server's connection limit
//!    beside the bench's servers), statements prepared once per connection with the
//!    parameter types sqlx declares. A set sends all its statements at once: polled
//!    together, tokio-postgres pipelines them on the connection, one round trip per set.
//!    Every row is received.
//!
//! `RELATA_JWT_SECRET`, when set, is the token secret (the servers' own, so that `--token`
//! is valid); otherwise the one kept in the database.
//!
//! Prints one tab-separated line per measurement: `floor_db`, the connection count it
//! stands for (`all` on SQLite), the workers (threads or tasks), sets run, seconds, sets
//! per second, statements per set, rows per set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::Request;
use chrono::SecondsFormat;
use relata::config::Settings;
use sea_orm::Statement;
use sea_orm::sea_query::Value;
use tower::ServiceExt;

struct Args {
    method: String,
    path: String,
    token: Option<String>,
    body: Option<String>,
    tasks: Vec<usize>,
    seconds: f64,
    threads: usize,
    pg_connections: usize,
    sql_out: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        method: "GET".into(),
        path: String::new(),
        token: None,
        body: None,
        tasks: vec![16, 64],
        seconds: 3.0,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        pg_connections: 32,
        sql_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--method" => a.method = value()?,
            "--path" => a.path = value()?,
            "--token" => a.token = Some(value()?),
            "--body" => a.body = Some(value()?),
            "--tasks" => {
                a.tasks = value()?
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => a.seconds = value()?.parse()?,
            "--threads" => a.threads = value()?.parse()?,
            "--pg-connections" => a.pg_connections = value()?.parse()?,
            "--sql-out" => a.sql_out = Some(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    if a.path.is_empty() {
        bail!("--path is required");
    }
    Ok(a)
}

/// Runs the request once through Relata's router and returns the statements it sent.
async fn capture(url: &str, a: &Args) -> anyhow::Result<Vec<Statement>> {
    let mut settings = Settings::for_database(url);
    settings.strict_budget = false;
    settings.max_connections = 2;
    // The servers' secret, so that their tokens are valid here.
    settings.jwt_secret = std::env::var("RELATA_JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    let state = relata::build_state(settings).await?;
    let router = relata::build_router(state);
    let mut req = Request::builder().method(a.method.as_str()).uri(&a.path);
    if let Some(token) = &a.token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if a.body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Body::from(a.body.clone().unwrap_or_default()))?;
    let (res, statements) = relata::store::capturing_statements(router.oneshot(req)).await;
    let res = res?;
    let counted: Option<usize> = res
        .headers()
        .get("x-query-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if !res.status().is_success() {
        bail!("{} {} answered {}", a.method, a.path, res.status());
    }
    if counted != Some(statements.len()) {
        bail!(
            "X-Query-Count {counted:?} but {} statements captured",
            statements.len()
        );
    }
    Ok(statements)
}

fn values(s: &Statement) -> &[Value] {
    s.values.as_ref().map_or(&[], |v| v.0.as_slice())
}

/// Shared by a replay's workers: they loop while it runs and record each set; only sets
/// finished inside the measured window (after half a second of warm-up) count.
struct Clock {
    stop: AtomicBool,
    measuring: AtomicBool,
    done: AtomicU64,
    failed: AtomicU64,
}

impl Clock {
    fn new() -> Arc<Self> {
        Arc::new(Clock {
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn record<E: std::fmt::Display>(&self, result: Result<usize, E>) {
        match result {
            Ok(_) if self.measuring.load(Ordering::Relaxed) => {
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("floor_db: a statement set failed: {e}");
                }
            }
        }
    }

    /// Warm-up, then the measured window; returns (sets, seconds).
    fn time(&self, secs: f64, sleep: impl Fn(Duration)) -> (u64, f64) {
        sleep(Duration::from_millis(500));
        self.measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        sleep(Duration::from_secs_f64(secs));
        let done = self.done.load(Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::Relaxed);
        (done, elapsed)
    }

    fn report_failures(&self) {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            eprintln!("floor_db: {failed} statement sets failed");
        }
    }
}

mod sqlite {
    //! The SQLite replay: rusqlite on one thread per core.

    use super::*;
    use rusqlite::types::{Value as Sql, ValueRef};

    /// A captured value as sqlx-sqlite binds it (SeaORM's encoding, so that text-stored
    /// timestamps compare the same way).
    fn bind(v: &Value) -> anyhow::Result<Sql> {
        Ok(match v {
            Value::Bool(b) => b.map_or(Sql::Null, |b| Sql::Integer(b as i64)),
            Value::TinyInt(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::SmallInt(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::Int(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::BigInt(i) => i.map_or(Sql::Null, Sql::Integer),
            Value::TinyUnsigned(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::SmallUnsigned(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::Unsigned(i) => i.map_or(Sql::Null, |i| Sql::Integer(i.into())),
            Value::BigUnsigned(i) => i.map_or(Sql::Null, |i| Sql::Integer(i as i64)),
            Value::Float(f) => f.map_or(Sql::Null, |f| Sql::Real(f.into())),
            Value::Double(f) => f.map_or(Sql::Null, Sql::Real),
            Value::String(s) => s.clone().map_or(Sql::Null, Sql::Text),
            Value::Char(c) => c.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
            Value::Bytes(b) => b.clone().map_or(Sql::Null, Sql::Blob),
            Value::ChronoDateTimeUtc(t) => t.map_or(Sql::Null, |t| {
                Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            }),
            Value::ChronoDateTimeWithTimeZone(t) => t.map_or(Sql::Null, |t| {
                Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            }),
            Value::ChronoDateTime(t) => {
                t.map_or(Sql::Null, |t| Sql::Text(t.format("%F %T%.f").to_string()))
            }
            Value::ChronoDate(d) => d.map_or(Sql::Null, |d| Sql::Text(d.format("%F").to_string())),
            other => bail!("the floor cannot bind {other:?} on SQLite"),
        })
    }

    fn open(path: &str) -> anyhow::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456;",
        )?;
        Ok(conn)
    }

    /// One set: every statement bound, stepped to its end, every column read. Returns the
    /// rows read.
    fn run_set(
        prepared: &mut [rusqlite::Statement<'_>],
        bound: &[Vec<Sql>],
    ) -> rusqlite::Result<usize> {
        let mut rows = 0;
        let mut bytes = 0usize;
        for (stmt, vals) in prepared.iter_mut().zip(bound) {
            let columns = stmt.column_count();
            let mut it = stmt.query(rusqlite::params_from_iter(vals.iter()))?;
            while let Some(row) = it.next()? {
                rows += 1;
                for i in 0..columns {
                    bytes += match row.get_ref(i)? {
                        ValueRef::Text(b) | ValueRef::Blob(b) => b.len(),
                        ValueRef::Integer(n) => n as usize & 1,
                        ValueRef::Real(f) => f as usize & 1,
                        ValueRef::Null => 0,
                    };
                }
            }
        }
        std::hint::black_box(bytes);
        Ok(rows)
    }

    /// Replays `set` on `threads` threads; returns (sets, seconds, rows per set).
    pub fn replay(
        path: &str,
        set: &[Statement],
        threads: usize,
        secs: f64,
    ) -> anyhow::Result<(u64, f64, usize)> {
        let bound: Vec<Vec<Sql>> = set
            .iter()
            .map(|s| values(s).iter().map(bind).collect())
            .collect::<anyhow::Result<_>>()?;
        // Fails loudly before measuring when the replay itself does not work.
        let conn = open(path)?;
        let mut prepared = set
            .iter()
            .map(|s| conn.prepare(&s.sql))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let rows = run_set(&mut prepared, &bound)?;
        drop(prepared);
        drop(conn);
        let clock = Clock::new();
        let (sets, elapsed) = std::thread::scope(|scope| -> anyhow::Result<(u64, f64)> {
            let mut workers = Vec::new();
            for _ in 0..threads {
                let (clock, bound) = (&clock, &bound);
                workers.push(scope.spawn(move || -> anyhow::Result<()> {
                    let conn = open(path)?;
                    let mut prepared = set
                        .iter()
                        .map(|s| conn.prepare(&s.sql))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    while clock.running() {
                        clock.record(run_set(&mut prepared, bound));
                    }
                    Ok(())
                }));
            }
            let measured = clock.time(secs, std::thread::sleep);
            for w in workers {
                w.join().expect("a floor thread panicked")?;
            }
            Ok(measured)
        })?;
        clock.report_failures();
        Ok((sets, elapsed, rows))
    }
}

mod postgres {
    //! The PostgreSQL replay: tokio-postgres, a set's statements pipelined on one
    //! connection.

    use super::*;
    use tokio_postgres::types::{ToSql, Type};

    type Param = Box<dyn ToSql + Sync + Send>;

    /// A captured value with the parameter type sqlx declares for it.
    fn bind(v: &Value) -> anyhow::Result<(Param, Type)> {
        Ok(match v {
            Value::Bool(b) => (Box::new(*b), Type::BOOL),
            Value::TinyInt(i) => (Box::new(i.map(i16::from)), Type::INT2),
            Value::SmallInt(i) => (Box::new(*i), Type::INT2),
            Value::Int(i) => (Box::new(*i), Type::INT4),
            Value::BigInt(i) => (Box::new(*i), Type::INT8),
            Value::TinyUnsigned(i) => (Box::new(i.map(i16::from)), Type::INT2),
            Value::SmallUnsigned(i) => (Box::new(i.map(i32::from)), Type::INT4),
            Value::Unsigned(i) => (Box::new(i.map(i64::from)), Type::INT8),
            Value::BigUnsigned(i) => (Box::new(i.map(|i| i as i64)), Type::INT8),
            Value::Float(f) => (Box::new(*f), Type::FLOAT4),
            Value::Double(f) => (Box::new(*f), Type::FLOAT8),
            Value::String(s) => (Box::new(s.clone()), Type::TEXT),
            Value::Char(c) => (Box::new(c.map(|c| c.to_string())), Type::TEXT),
            Value::Bytes(b) => (Box::new(b.clone()), Type::BYTEA),
            Value::ChronoDateTimeUtc(t) => (Box::new(*t), Type::TIMESTAMPTZ),
            Value::ChronoDateTimeWithTimeZone(t) => (Box::new(*t), Type::TIMESTAMPTZ),
            Value::ChronoDateTime(t) => (Box::new(*t), Type::TIMESTAMP),
            Value::ChronoDate(d) => (Box::new(*d), Type::DATE),
            other => bail!("the floor cannot bind {other:?} on PostgreSQL"),
        })
    }

    struct Conn {
        client: tokio_postgres::Client,
        statements: Vec<tokio_postgres::Statement>,
    }

    async fn connect(url: &str, set: &[Statement], types: &[Vec<Type>]) -> anyhow::Result<Conn> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("floor_db: connection: {e}");
            }
        });
        let mut statements = Vec::new();
        for (s, t) in set.iter().zip(types) {
            statements.push(client.prepare_typed(&s.sql, t).await?);
        }
        Ok(Conn { client, statements })
    }

    /// One set: every statement sent at once (pipelined), every row received.
    async fn run_set(conn: &Conn, params: &[Vec<Param>]) -> Result<usize, tokio_postgres::Error> {
        let queries = conn.statements.iter().zip(params).map(|(st, p)| {
            let refs: Vec<&(dyn ToSql + Sync)> = p
                .iter()
                .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                .collect();
            async move { conn.client.query(st, &refs).await }
        });
        let results = futures::future::try_join_all(queries).await?;
        Ok(results
            .iter()
            .flatten()
            .map(|row| std::hint::black_box(row.len()).min(1))
            .sum())
    }

    /// For each task count: (tasks, sets, seconds); plus rows per set.
    pub async fn replay(
        url: &str,
        set: &[Statement],
        tasks: &[usize],
        max_connections: usize,
        secs: f64,
    ) -> anyhow::Result<(Vec<(usize, u64, f64)>, usize)> {
        let mut params = Vec::new();
        let mut types = Vec::new();
        for s in set {
            let (p, t): (Vec<Param>, Vec<Type>) = values(s)
                .iter()
                .map(bind)
                .collect::<anyhow::Result<Vec<_>>>()?
                .into_iter()
                .unzip();
            params.push(p);
            types.push(t);
        }
        let params = Arc::new(params);
        let first = connect(url, set, &types).await?;
        let rows = run_set(&first, &params).await?;
        let mut conns = vec![Arc::new(first)];
        let mut out = Vec::new();
        for &n in tasks {
            let wanted = n.clamp(1, max_connections.max(1));
            while conns.len() < wanted {
                conns.push(Arc::new(connect(url, set, &types).await?));
            }
            let clock = Clock::new();
            let mut handles = Vec::new();
            for i in 0..n {
                let (conn, params, clock) =
                    (conns[i % wanted].clone(), params.clone(), clock.clone());
                handles.push(tokio::spawn(async move {
                    while clock.running() {
                        clock.record(run_set(&conn, &params).await);
                    }
                }));
            }
            let sleeper = tokio::runtime::Handle::current();
            let (sets, elapsed) = tokio::task::block_in_place(|| {
                clock.time(secs, |d| sleeper.block_on(tokio::time::sleep(d)))
            });
            for h in handles {
                let _ = h.await;
            }
            clock.report_failures();
            out.push((n, sets, elapsed));
        }
        Ok((out, rows))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let set = capture(&url, &a).await?;
    if let Some(out) = &a.sql_out {
        let mut text = String::new();
        for s in &set {
            text.push_str(&format!("-- values: {:?}\n{};\n", values(s), s.sql));
        }
        std::fs::write(out, text)?;
    }
    let n = set.len();
    let line = |label: String, workers: usize, sets: u64, secs: f64, rows: usize| {
        println!(
            "floor_db\t{label}\t{workers}\t{sets}\t{secs:.3}\t{:.1}\t{n}\t{rows}",
            sets as f64 / secs
        )
    };
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path).to_string();
        let (threads, seconds) = (a.threads, a.seconds);
        let (sets, secs, rows) =
            tokio::task::spawn_blocking(move || sqlite::replay(&path, &set, threads, seconds))
                .await??;
        line("all".into(), threads, sets, secs, rows);
    } else {
        let (runs, rows) =
            postgres::replay(&url, &set, &a.tasks, a.pg_connections, a.seconds).await?;
        for (tasks, sets, secs) in runs {
            line(tasks.to_string(), tasks, sets, secs, rows);
        }
    }
    Ok(())
}
