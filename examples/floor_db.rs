//! The benchmark's database floor: the SQL one request runs, replayed straight through
//! sqlx, without HTTP and without the ORM.
//!
//! ```text
//! DATABASE_URL=… floor_db --method GET --path '/api/v1/posts?limit=20' \
//!     [--token T] [--body JSON] [--tasks 16,64] [--seconds 3] [--pool 10] [--sql-out FILE]
//! ```
//!
//! 1. Capture: the request goes once through Relata's own router, in process, inside
//!    [`relata::db::capturing_statements`], which records every statement (SQL and bound
//!    values) the metric callback sees. The answer must be 2xx and its `X-Query-Count`
//!    must equal the number captured.
//! 2. Replay: for each `--tasks` N, N tokio tasks run that statement set in a loop for
//!    `--seconds` on a plain sqlx pool of `--pool` connections opened like Relata's (on
//!    SQLite: WAL, `synchronous=NORMAL`, foreign keys, busy timeout, `mmap_size`). Each
//!    set takes one pooled connection and runs its statements in order, each in
//!    autocommit (Relata wraps a write in BEGIN/COMMIT, which the floor leaves out: it is
//!    a floor). Every row is fetched; none is decoded.
//!
//! Prints one tab-separated line per N: `floor_db`, N, sets run, seconds, sets per second,
//! statements per set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::Request;
use relata::config::Settings;
use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, Executor};
use sea_orm::{DbBackend, Statement};
use sea_query_sqlx::SqlxValues;
use tower::ServiceExt;

struct Args {
    method: String,
    path: String,
    token: Option<String>,
    body: Option<String>,
    tasks: Vec<usize>,
    seconds: f64,
    pool: u32,
    sql_out: Option<String>,
    /// Extra SQLite pragmas (`--pragma mmap_size=268435456`), to try one on the floor.
    pragmas: Vec<(String, String)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        method: "GET".into(),
        path: String::new(),
        token: None,
        body: None,
        tasks: vec![16, 64],
        seconds: 3.0,
        pool: 10,
        sql_out: None,
        pragmas: Vec::new(),
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
            "--pool" => a.pool = value()?.parse()?,
            "--sql-out" => a.sql_out = Some(value()?),
            "--pragma" => {
                let v = value()?;
                let (name, val) = v.split_once('=').context("--pragma takes NAME=VALUE")?;
                a.pragmas.push((name.to_string(), val.to_string()));
            }
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
    let (res, statements) = relata::db::capturing_statements(router.oneshot(req)).await;
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

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

async fn open(url: &str, size: u32, pragmas: &[(String, String)]) -> anyhow::Result<Pool> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use std::str::FromStr;
    Ok(if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("mmap_size", "268435456");
        let opts = pragmas
            .iter()
            .fold(opts, |o, (k, v)| o.pragma(k.clone(), v.clone()));
        Pool::Sqlite(
            sqlx::pool::PoolOptions::new()
                .max_connections(size)
                .min_connections(size)
                .connect_with(opts)
                .await?,
        )
    } else {
        Pool::Postgres(
            sqlx::pool::PoolOptions::new()
                .max_connections(size)
                .min_connections(size)
                .connect(url)
                .await?,
        )
    })
}

/// One statement set on one pooled connection; returns the rows fetched.
async fn run_set(pool: &Pool, set: &[Statement]) -> anyhow::Result<usize> {
    let mut rows = 0;
    let values = |s: &Statement| SqlxValues(s.values.clone().unwrap_or(Values(Vec::new())));
    match pool {
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await?;
            for s in set {
                let q = sqlx::query_with(sqlx::AssertSqlSafe(s.sql.as_str()), values(s));
                rows += conn.fetch_all(q).await?.len();
            }
        }
        Pool::Postgres(p) => {
            let mut conn = p.acquire().await?;
            for s in set {
                let q = sqlx::query_with(sqlx::AssertSqlSafe(s.sql.as_str()), values(s));
                rows += conn.fetch_all(q).await?.len();
            }
        }
    }
    Ok(rows)
}

async fn replay(pool: Arc<Pool>, set: Arc<Vec<Statement>>, tasks: usize, secs: f64) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (pool, set, stop, done, failed) = (
            pool.clone(),
            set.clone(),
            stop.clone(),
            done.clone(),
            failed.clone(),
        );
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match run_set(&pool, &set).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("floor_db: a statement set failed: {e}");
                        }
                        0
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if failed.load(Ordering::Relaxed) > 0 {
        eprintln!(
            "floor_db: {} statement sets failed",
            failed.load(Ordering::Relaxed)
        );
    }
    (done.load(Ordering::Relaxed), elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let set = capture(&url, &a).await?;
    if let Some(out) = &a.sql_out {
        let mut text = String::new();
        for s in &set {
            let backend = match s.db_backend {
                DbBackend::Postgres => "postgres",
                _ => "sqlite",
            };
            text.push_str(&format!(
                "-- {backend}, {} value(s)\n{};\n",
                s.values.as_ref().map_or(0, |v| v.0.len()),
                s.sql
            ));
        }
        std::fs::write(out, text)?;
    }
    let pool = Arc::new(open(&url, a.pool, &a.pragmas).await?);
    let set = Arc::new(set);
    // Fails loudly before measuring when the replay itself does not work.
    run_set(&pool, &set).await?;
    for &tasks in &a.tasks {
        // Warm every connection's statement cache first.
        replay(pool.clone(), set.clone(), tasks, 0.5).await;
        let (sets, secs) = replay(pool.clone(), set.clone(), tasks, a.seconds).await;
        println!(
            "floor_db\t{tasks}\t{sets}\t{secs:.3}\t{:.1}\t{}",
            sets as f64 / secs,
            set.len()
        );
    }
    Ok(())
}
