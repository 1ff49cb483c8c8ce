//! The per-request statement counter: every executor reports each statement it sends
//! ([`record_statement`]) into a task-local [`RequestStats`], which the HTTP layer turns
//! into `X-Query-Count` and `Server-Timing` and checks against the request's query budget
//! (SPEC §3). In `bench-capture` builds it also records the statements themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::Statement;

/// What one request did with the database.
#[derive(Debug, Default)]
pub struct RequestStats {
    statements: AtomicUsize,
    nanos: AtomicU64,
    budget: AtomicUsize,
    /// Read units of this request that hold a connection or a snapshot right now.
    open_reads: AtomicUsize,
    /// Where this request's reads went, with read replicas ([`super::read::replica`]).
    pub(super) reads: ReadPlacement,
}

/// Where one request's reads went and what the replica choice cost it.
#[derive(Debug, Default)]
pub struct ReadPlacement {
    /// The primary's WAL position taken for this request (0: none yet); every read unit of
    /// the request is served at or past it, until the request writes.
    pub(super) wal_target: AtomicU64,
    /// The server of the latest read unit: 0 none, 1 the primary, 2 + i replica i.
    pub(super) server: AtomicUsize,
    /// Time spent choosing a server: the WAL position, then waiting for a replica.
    pub(super) wait_nanos: AtomicU64,
    /// The request sent no credentials and may read as stale as `RELATA_REPLICA_MAX_LAG_MS`.
    pub(super) may_lag: std::sync::atomic::AtomicBool,
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

    /// The server the request's reads went to last (`None`: it read nothing there, or no
    /// replicas are configured): `primary` or `replicaN`, N from 1 in the order of
    /// `RELATA_READ_REPLICAS`.
    pub fn read_server(&self) -> Option<String> {
        match self.reads.server.load(Ordering::Relaxed) {
            0 => None,
            1 => Some("primary".to_string()),
            n => Some(format!("replica{}", n - 1)),
        }
    }

    /// Time the request's reads waited to choose their server.
    pub fn read_wait(&self) -> Duration {
        Duration::from_nanos(self.reads.wait_nanos.load(Ordering::Relaxed))
    }

    /// Lets this request's reads be as stale as `RELATA_REPLICA_MAX_LAG_MS` allows (an
    /// anonymous read).
    pub fn allow_lag(&self) {
        self.reads.may_lag.store(true, Ordering::Relaxed);
    }

    /// The request's statement budget, when its handler declared one.
    pub fn budget(&self) -> Option<usize> {
        match self.budget.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }
}

/// A read unit holding a connection or a snapshot opened (`true`) or ended (`false`) on the
/// current request; see [`reads_open`].
pub(super) fn read_unit(opened: bool) {
    let _ = STATS.try_with(|s| {
        if opened {
            s.open_reads.fetch_add(1, Ordering::Relaxed);
        } else {
            s.open_reads.fetch_sub(1, Ordering::Relaxed);
        }
    });
}

/// How many read units of the current request are open (0 outside a request).
pub(super) fn reads_open() -> usize {
    STATS
        .try_with(|s| s.open_reads.load(Ordering::Relaxed))
        .unwrap_or(0)
}

/// The request is about to write: its later reads must see the write, so the WAL
/// position taken before it no longer serves them.
pub(super) fn forget_wal_target() {
    let _ = STATS.try_with(|s| s.reads.wal_target.store(0, Ordering::Relaxed));
}

/// Runs `f` on the current request's placement, if inside a request.
pub(super) fn with_placement<T>(f: impl FnOnce(&ReadPlacement) -> T) -> Option<T> {
    STATS.try_with(|s| f(&s.reads)).ok()
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
