//! Read replicas (`RELATA_READ_REPLICAS`): which server a read unit's statements run on,
//! chosen so that no read is staler than it would be on the primary alone.
//!
//! The guarantee: a read unit sees every write answered before its request began. At the
//! unit's first statement, the primary's WAL flush position is taken ([`WalClock`]: a
//! statement that reads no table, shared by every request that arrived before it was
//! sent); every write answered before that moment ends at or before it, as a commit is
//! answered once flushed (with `synchronous_commit = off` the insert position is taken
//! instead). A replica whose
//! replay position has reached it has applied all of them, and replay positions only
//! grow, so a position polled earlier is a lower bound: when the last polled one already
//! covers the target, the replica is used with no round trip of its own. Otherwise the
//! read waits for the pollers (which poll at once while anyone waits) up to
//! [`MAX_WAIT`], then reads on the primary. The target holds for the request's later read
//! units until it writes ([`super::super::Store`] forgets it at a write unit), so a token
//! check and the page it guards cost one WAL position.
//!
//! A replica that cannot be reached, errs as a server going away does, or does not answer
//! a statement within [`STATEMENT_TIMEOUT`] is skipped for [`RETRY_AFTER`] and the
//! statement runs again on the primary ([`super::pg::Session`]); its poller brings it
//! back once it answers in recovery. A replica that answers out of recovery (promoted) is
//! never used again by this process, and so is one whose system identifier is not the
//! primary's (a replica of another cluster): refused at start, or left out when it first
//! answers later.
//!
//! `RELATA_REPLICA_MAX_LAG_MS` lets an anonymous request (no credentials) skip the WAL
//! position: it reads on a replica known to have replayed everything the primary had
//! written at most that long ago (the pollers keep a history of the primary's positions).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::DbErr;
use tokio::sync::Notify;
use tokio_postgres::{Client, Config, NoTls};

use crate::store::count;

/// Longest a read waits for a replica to replay its target before it reads on the primary.
pub const MAX_WAIT: Duration = Duration::from_millis(20);
/// Longest a replica's statement may take before the primary answers it instead.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
/// A replica that failed a request is not chosen again for this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Connecting to a replica (its read pool, its poller) gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How often each replica's replay position (and the primary's position) is polled while
/// no read waits; while one does, the pollers poll back to back ([`BUSY_POLL`]).
const IDLE_POLL: Duration = Duration::from_millis(20);
const BUSY_POLL: Duration = Duration::from_micros(500);
/// How often the primary's position is sampled for the lag figures alone.
const LAG_SAMPLE: Duration = Duration::from_secs(1);
/// How many of the primary's sampled positions are kept for the staleness estimate
/// (about a minute at [`IDLE_POLL`]).
const HISTORY: usize = 3000;

/// The primary's WAL flush position, as a number: with `synchronous_commit` on (the
/// default) a commit is answered only once flushed, so every answered write ends at or
/// before it.
const PRIMARY_FLUSHED: &str = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::int8";
/// The insert position, past every record written, flushed or not: what a primary whose
/// commits are answered before they are flushed (`synchronous_commit = off`) needs. It may
/// run ahead of what replicas can have (a record not yet flushed), so more reads fall
/// back to the primary.
const PRIMARY_INSERTED: &str = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8";
/// Whether the server is a replica, and how far it has replayed.
const REPLAY_POSITION: &str =
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8";
/// The cluster's identity, set by `initdb` and copied by `pg_basebackup`: a streaming
/// replica of the primary has the primary's, so a server that answers in recovery with
/// another is a replica of some other cluster, whose replay positions say nothing about
/// the primary's writes. Asked when a replica first answers, and whenever it comes back.
const SYSTEM_IDENTIFIER: &str = "SELECT system_identifier FROM pg_control_system()";

/// A replica's state, as polled and as requests found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Not reached yet.
    Unknown = 0,
    /// Answers in recovery: usable.
    Up = 1,
    /// Did not answer, or failed a request; polled again.
    Down = 2,
    /// Answers out of recovery (a primary), or replicates another cluster: never read from.
    NotReplica = 3,
}

impl State {
    fn of(value: u8) -> State {
        match value {
            1 => State::Up,
            2 => State::Down,
            3 => State::NotReplica,
            _ => State::Unknown,
        }
    }

    fn label(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
            State::NotReplica => "not_a_replica",
        }
    }
}

/// One read replica.
struct Replica {
    /// `replicaN`, N from 1 in the order of the setting.
    label: String,
    /// `HOST:PORT/DATABASE`, without user or password.
    place: String,
    /// Its URL, for its read pool ([`super::pg::ReplicaPools`]).
    url: String,
    config: Config,
    /// The latest replay position polled (a lower bound of the current one).
    replay: AtomicU64,
    state: AtomicU8,
    /// Not chosen before this instant (a request found it failing).
    resting_until: Mutex<Option<Instant>>,
    /// Read units it served, and the statements it failed (then run on the primary).
    units: AtomicU64,
    failures: AtomicU64,
}

impl Replica {
    fn state(&self) -> State {
        State::of(self.state.load(Ordering::Acquire))
    }

    fn usable(&self) -> bool {
        self.state() == State::Up
            && self
                .resting_until
                .lock()
                .map_or(true, |until| until.is_none_or(|t| Instant::now() >= t))
    }
}

/// What `/metrics` shows of one replica.
#[derive(Clone, Debug)]
pub struct ReplicaStatus {
    pub label: String,
    pub place: String,
    /// `up`, `down`, `unknown` or `not_a_replica`.
    pub state: &'static str,
    /// WAL bytes the primary had written (at its latest sample) that it had not replayed.
    pub lag_bytes: u64,
    /// How old the newest primary position it is known to have replayed is, in seconds.
    pub lag_seconds: Option<f64>,
    pub units: u64,
    pub failures: u64,
}

/// The primary's WAL position, one statement at a time on a connection of its own: a
/// caller takes the answer of the first statement sent after it arrived, so a burst of
/// requests shares one statement per round trip.
struct WalClock {
    config: Config,
    /// [`PRIMARY_FLUSHED`] or [`PRIMARY_INSERTED`].
    position: &'static str,
    /// Statements sent so far.
    sent: AtomicU64,
    /// The latest answer: which statement (by `sent`), and its position or a failure.
    latest: Mutex<(u64, Option<u64>)>,
    /// The connection; whoever holds it sends the next statement.
    turn: tokio::sync::Mutex<Option<Client>>,
}

impl WalClock {
    /// A WAL position taken after this call began.
    async fn now(&self) -> Result<u64, DbErr> {
        let arrived = self.sent.load(Ordering::SeqCst);
        if let Some(answer) = self.answer_after(arrived) {
            return answer;
        }
        let mut client = self.turn.lock().await;
        // Someone else's statement, sent after we arrived, may have answered meanwhile.
        if let Some(answer) = self.answer_after(arrived) {
            return answer;
        }
        let this = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let result = ask(&self.config, &mut client, self.position)
            .await
            .and_then(|row| {
                row.try_get::<_, i64>(0)
                    .map_err(|e| DbErr::Custom(format!("the primary's WAL position: {e}")))
            })
            .map(|lsn| lsn as u64);
        if let Ok(mut latest) = self.latest.lock() {
            *latest = (this, result.as_ref().ok().copied());
        }
        result
    }

    fn answer_after(&self, arrived: u64) -> Option<Result<u64, DbErr>> {
        let (which, position) = *self.latest.lock().ok()?;
        (which > arrived).then(|| {
            position.ok_or_else(|| {
                DbErr::Conn(sea_orm::RuntimeErr::Internal(
                    "the primary's WAL position could not be read".into(),
                ))
            })
        })
    }
}

/// The [`SYSTEM_IDENTIFIER`] of the server `config` names.
async fn system_identifier(config: &Config, client: &mut Option<Client>) -> Result<i64, DbErr> {
    ask(config, client, SYSTEM_IDENTIFIER)
        .await?
        .try_get::<_, i64>(0)
        .map_err(|e| DbErr::Custom(format!("system identifier: {e}")))
}

/// Runs `sql` (one row expected) on `client`, connecting it first when it is missing or
/// closed; a failure drops the connection, so the next call connects again.
async fn ask(
    config: &Config,
    client: &mut Option<Client>,
    sql: &str,
) -> Result<tokio_postgres::Row, DbErr> {
    let outage = |what: String| DbErr::Conn(sea_orm::RuntimeErr::Internal(what));
    if client.as_ref().is_none_or(Client::is_closed) {
        let (new, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| outage(format!("postgres: {e}")))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        *client = Some(new);
    }
    let Some(conn) = client.as_ref() else {
        return Err(outage("no connection".into()));
    };
    match tokio::time::timeout(STATEMENT_TIMEOUT, conn.query_one(sql, &[])).await {
        Ok(Ok(row)) => Ok(row),
        Ok(Err(err)) => {
            *client = None;
            Err(outage(format!("postgres: {err}")))
        }
        Err(_) => {
            *client = None;
            Err(outage(format!(
                "postgres: no answer within {STATEMENT_TIMEOUT:?}"
            )))
        }
    }
}

/// The read replicas of one process, their pollers and the primary's WAL clock.
pub struct Replicas {
    members: Vec<Replica>,
    clock: WalClock,
    /// The primary's [`SYSTEM_IDENTIFIER`], which each replica must share.
    system: i64,
    max_lag: Option<Duration>,
    /// Where the round robin over usable replicas starts next.
    next: AtomicUsize,
    /// Signalled after each poll.
    polled: Notify,
    /// Signalled when a read starts waiting, so the pollers poll at once.
    demand: Arc<Notify>,
    waiting: AtomicUsize,
    /// The primary's positions as sampled, oldest first (for the staleness estimate).
    history: Mutex<VecDeque<(Instant, u64)>>,
    /// Read units on the primary although replicas are configured.
    primary_units: AtomicU64,
    /// Time read units spent choosing their server, in nanoseconds.
    wait_nanos: AtomicU64,
}

impl Replicas {
    /// The replicas `RELATA_READ_REPLICAS` names, checked and polled; `None` when it
    /// names none. Refuses (naming the setting) a SQLite `DATABASE_URL`, one whose reads
    /// cannot go through the direct executor, a replica URL that cannot be used the same
    /// way, and a server that answers out of recovery. A replica that does not answer is
    /// not refused: it is used once it does.
    pub async fn start(settings: &crate::config::Settings) -> anyhow::Result<Option<Arc<Self>>> {
        if settings.read_replicas.is_empty() {
            return Ok(None);
        }
        let primary_url = &settings.database_url;
        if !primary_url.starts_with("postgres") {
            anyhow::bail!(
                "RELATA_READ_REPLICAS names PostgreSQL read replicas, but DATABASE_URL is not \
                 PostgreSQL: replicas serve a PostgreSQL primary only; unset RELATA_READ_REPLICAS"
            );
        }
        let Some(mut primary) = crate::store::connect::direct_pg_config(primary_url).ok() else {
            anyhow::bail!(
                "RELATA_READ_REPLICAS is not supported with a DATABASE_URL that requires TLS \
                 or carries sqlx-only options: reads would stay on SeaORM, never on a replica"
            );
        };
        primary.connect_timeout(settings.db_connect_timeout);
        let position = match ask(&primary, &mut None, "SHOW synchronous_commit").await {
            Ok(row) if row.try_get::<_, String>(0).is_ok_and(|v| v == "off") => {
                tracing::warn!(
                    "synchronous_commit is off on the primary: reads wait for replicas to \
                     replay its WAL insert position, and fall back to the primary more often"
                );
                PRIMARY_INSERTED
            }
            Ok(_) => PRIMARY_FLUSHED,
            Err(err) => anyhow::bail!(
                "RELATA_READ_REPLICAS: cannot ask the primary (DATABASE_URL) for its settings: {err}"
            ),
        };
        let system = system_identifier(&primary, &mut None)
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "RELATA_READ_REPLICAS: cannot ask the primary (DATABASE_URL) for its system \
                 identifier: {err}"
                )
            })?;
        let mut members = Vec::new();
        for (i, url) in settings.read_replicas.iter().enumerate() {
            let place = crate::store::connect::database_place(url);
            let refused =
                |why: &str| anyhow::anyhow!("RELATA_READ_REPLICAS: the replica at {place} {why}");
            let mut config = crate::store::connect::direct_pg_config(url)
                .ok()
                .ok_or_else(|| {
                    refused("has a URL that requires TLS or carries sqlx-only options")
                })?;
            config.connect_timeout(CONNECT_TIMEOUT);
            members.push(Replica {
                label: format!("replica{}", i + 1),
                place,
                url: url.clone(),
                config,
                replay: AtomicU64::new(0),
                state: AtomicU8::new(State::Unknown as u8),
                resting_until: Mutex::new(None),
                units: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            });
        }
        for replica in &members {
            let mut client = None;
            match ask(&replica.config, &mut client, REPLAY_POSITION).await {
                Ok(row) if !row.try_get::<_, bool>(0).unwrap_or(false) => anyhow::bail!(
                    "RELATA_READ_REPLICAS: the server at {} is not in recovery: it is a \
                     primary, not a streaming replica of DATABASE_URL",
                    replica.place
                ),
                Ok(row) => {
                    match system_identifier(&replica.config, &mut client).await {
                        Ok(other) if other != system => anyhow::bail!(
                            "RELATA_READ_REPLICAS: the server at {} is a replica of another \
                             cluster (system identifier {other}), not of DATABASE_URL's \
                             ({system})",
                            replica.place
                        ),
                        Ok(_) => {}
                        // Its poller asks again before it is read from.
                        Err(_) => continue,
                    }
                    let replay = row.try_get::<_, Option<i64>>(1).ok().flatten();
                    replica
                        .replay
                        .store(replay.unwrap_or(0) as u64, Ordering::Release);
                    replica.state.store(State::Up as u8, Ordering::Release);
                    tracing::info!(replica = %replica.label, server = %replica.place, "read replica answers");
                }
                Err(err) => {
                    replica.state.store(State::Down as u8, Ordering::Release);
                    tracing::warn!(replica = %replica.label, server = %replica.place, %err,
                        "read replica does not answer; reads go elsewhere until it does");
                }
            }
        }
        let replicas = Arc::new(Replicas {
            members,
            system,
            clock: WalClock {
                config: primary,
                position,
                sent: AtomicU64::new(0),
                latest: Mutex::new((0, None)),
                turn: tokio::sync::Mutex::new(None),
            },
            max_lag: settings.replica_max_lag,
            next: AtomicUsize::new(0),
            polled: Notify::new(),
            demand: Arc::new(Notify::new()),
            waiting: AtomicUsize::new(0),
            history: Mutex::new(VecDeque::new()),
            primary_units: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
        });
        for i in 0..replicas.members.len() {
            tokio::spawn(poll_replica(
                Arc::downgrade(&replicas),
                Arc::clone(&replicas.demand),
                i,
            ));
        }
        tokio::spawn(sample_primary(Arc::downgrade(&replicas)));
        Ok(Some(replicas))
    }

    /// The URL of each replica, in order.
    pub(super) fn urls(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|r| r.url.as_str())
    }

    /// The replica a read unit starting now may run on (`None`: the primary), recorded as
    /// the request's read server.
    pub(super) async fn choose(&self) -> Option<usize> {
        let started = Instant::now();
        let chosen = self.choose_unrecorded().await;
        let waited = started.elapsed();
        self.wait_nanos
            .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
        match chosen {
            Some(i) => self.members[i].units.fetch_add(1, Ordering::Relaxed),
            None => self.primary_units.fetch_add(1, Ordering::Relaxed),
        };
        count::with_placement(|p| {
            p.server
                .store(chosen.map_or(1, |i| i + 2), Ordering::Relaxed);
            p.wait_nanos
                .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
        });
        chosen
    }

    async fn choose_unrecorded(&self) -> Option<usize> {
        if !self.members.iter().any(Replica::usable) {
            return None;
        }
        // The request's later read units stay on its replica while it fits: one server's
        // view per request, and its connections stay warm.
        let previous = count::with_placement(|p| p.server.load(Ordering::Relaxed))
            .and_then(|server| server.checked_sub(2));
        if let Some(max_lag) = self.max_lag
            && count::with_placement(|p| p.may_lag.load(Ordering::Relaxed)).unwrap_or(false)
            && let Some(i) = self.pick(previous, |r| {
                self.staleness(r).is_some_and(|s| s <= max_lag)
            })
        {
            return Some(i);
        }
        let known = count::with_placement(|p| p.wal_target.load(Ordering::Relaxed))
            .filter(|&target| target != 0);
        let target = match known {
            Some(target) => target,
            None => {
                let target = self.clock.now().await.ok()?;
                count::with_placement(|p| p.wal_target.store(target, Ordering::Relaxed));
                target
            }
        };
        let caught_up = |r: &Replica| r.replay.load(Ordering::Acquire) >= target;
        if let Some(i) = self.pick(previous, caught_up) {
            return Some(i);
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.demand.notify_waiters();
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        let chosen = loop {
            let polled = self.polled.notified();
            tokio::pin!(polled);
            polled.as_mut().enable();
            if let Some(i) = self.pick(previous, caught_up) {
                break Some(i);
            }
            if tokio::time::timeout_at(deadline, polled).await.is_err() {
                break None;
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        chosen
    }

    /// A usable replica that `fits`: `preferred` if it does, else the replicas take turns.
    fn pick(&self, preferred: Option<usize>, fits: impl Fn(&Replica) -> bool) -> Option<usize> {
        let fitting = |i: usize| self.members.get(i).is_some_and(|r| r.usable() && fits(r));
        if let Some(i) = preferred.filter(|&i| fitting(i)) {
            return Some(i);
        }
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| (start + k) % n).find(|&i| fitting(i))
    }

    /// Runs `statement` on replica `i`: `Some` with its answer, or `None` when the replica
    /// failed as a server does (gone, shutting down, unreachable, too slow), after taking
    /// it out of turn; then the caller runs the statement on the primary.
    pub(super) async fn guard<T>(
        &self,
        i: usize,
        statement: impl Future<Output = Result<T, DbErr>>,
    ) -> Option<Result<T, DbErr>> {
        match tokio::time::timeout(STATEMENT_TIMEOUT, statement).await {
            Ok(Err(err @ DbErr::Conn(_))) => {
                self.failed(i, &err);
                None
            }
            // A hot standby cancels a query whose rows its replay must remove: the
            // primary answers it; the replica itself is fine.
            Ok(Err(DbErr::Custom(text))) if text.contains("conflict with recovery") => {
                count::with_placement(|p| p.server.store(1, Ordering::Relaxed));
                self.primary_units.fetch_add(1, Ordering::Relaxed);
                tracing::info!(replica = %self.members[i].label, %text, "read replica cancelled a statement; the primary answers it");
                None
            }
            Ok(answer) => Some(answer),
            Err(_) => {
                self.failed(
                    i,
                    &DbErr::Custom(format!("no answer within {STATEMENT_TIMEOUT:?}")),
                );
                None
            }
        }
    }

    /// Replica `i` failed a request: it rests for [`RETRY_AFTER`], and the request's reads
    /// go to the primary.
    pub(super) fn failed(&self, i: usize, err: &DbErr) {
        let replica = &self.members[i];
        replica.failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut until) = replica.resting_until.lock() {
            *until = Some(Instant::now() + RETRY_AFTER);
        }
        self.primary_units.fetch_add(1, Ordering::Relaxed);
        count::with_placement(|p| p.server.store(1, Ordering::Relaxed));
        tracing::warn!(replica = %replica.label, server = %replica.place, %err,
            "read replica failed; this read runs on the primary");
    }

    /// How old the newest primary position that `replica` has replayed is.
    fn staleness(&self, replica: &Replica) -> Option<Duration> {
        let replay = replica.replay.load(Ordering::Acquire);
        let history = self.history.lock().ok()?;
        let covered = history.partition_point(|&(_, lsn)| lsn <= replay);
        let (at, _) = history.get(covered.checked_sub(1)?)?;
        Some(at.elapsed())
    }

    /// Each replica's state and lag, for `/metrics`.
    pub fn status(&self) -> Vec<ReplicaStatus> {
        let primary = self
            .history
            .lock()
            .ok()
            .and_then(|h| h.back().map(|&(_, lsn)| lsn))
            .unwrap_or(0);
        self.members
            .iter()
            .map(|r| ReplicaStatus {
                label: r.label.clone(),
                place: r.place.clone(),
                state: r.state().label(),
                lag_bytes: primary.saturating_sub(r.replay.load(Ordering::Acquire)),
                lag_seconds: self.staleness(r).map(|d| d.as_secs_f64()),
                units: r.units.load(Ordering::Relaxed),
                failures: r.failures.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Read units that ran on the primary although replicas are configured.
    pub fn primary_units(&self) -> u64 {
        self.primary_units.load(Ordering::Relaxed)
    }

    /// Time read units spent choosing their server, in all.
    pub fn wait_total(&self) -> Duration {
        Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed))
    }

    /// Statements sent to the primary for its WAL position.
    pub fn wal_position_statements(&self) -> u64 {
        self.clock.sent.load(Ordering::Relaxed)
    }
}

/// Sleeps for the poll interval, or less when a read starts waiting.
async fn pause(demand: &Notify, busy: bool) {
    let interval = if busy { BUSY_POLL } else { IDLE_POLL };
    tokio::select! {
        _ = demand.notified() => {}
        _ = tokio::time::sleep(interval) => {}
    }
}

/// Polls replica `i`'s replay position for as long as its [`Replicas`] lives.
async fn poll_replica(replicas: Weak<Replicas>, demand: Arc<Notify>, i: usize) {
    let mut client = None;
    loop {
        let Some(set) = replicas.upgrade() else {
            return;
        };
        let replica = &set.members[i];
        let before = replica.state();
        let polled = ask(&replica.config, &mut client, REPLAY_POSITION).await;
        let mut foreign = None;
        let now = match &polled {
            Ok(row) if row.try_get::<_, bool>(0).unwrap_or(false) => {
                // Coming up (at start, or back from down): first make sure it replicates
                // this primary, since its replay position means nothing otherwise.
                let identity = match before {
                    State::Up => Ok(set.system),
                    _ => system_identifier(&replica.config, &mut client).await,
                };
                match identity {
                    Ok(other) if other != set.system => {
                        foreign = Some(other);
                        State::NotReplica
                    }
                    Ok(_) => {
                        if let Some(replay) = row.try_get::<_, Option<i64>>(1).ok().flatten() {
                            replica.replay.fetch_max(replay as u64, Ordering::AcqRel);
                        }
                        State::Up
                    }
                    Err(_) => State::Down,
                }
            }
            Ok(_) => State::NotReplica,
            Err(_) => State::Down,
        };
        // A promoted replica stays out: its data has left the primary's.
        if before != State::NotReplica {
            replica.state.store(now as u8, Ordering::Release);
        }
        if before != now && before != State::NotReplica {
            match (&polled, now, foreign) {
                (_, State::Up, _) => {
                    tracing::info!(replica = %replica.label, server = %replica.place, "read replica is up")
                }
                (_, _, Some(other)) => tracing::error!(replica = %replica.label,
                    server = %replica.place, system_identifier = other, primary = set.system,
                    "read replica replicates another cluster: never read from"),
                (Err(err), _, _) => {
                    tracing::warn!(replica = %replica.label, server = %replica.place, %err, "read replica is down")
                }
                _ => tracing::error!(replica = %replica.label, server = %replica.place,
                    "read replica answers out of recovery (promoted?): no longer read from"),
            }
        }
        set.polled.notify_waiters();
        let busy = set.waiting.load(Ordering::SeqCst) > 0;
        drop(set);
        pause(&demand, busy).await;
    }
}

/// Samples the primary's position for the lag figures and the staleness estimate: every
/// [`IDLE_POLL`] when `RELATA_REPLICA_MAX_LAG_MS` relies on it, else every [`LAG_SAMPLE`].
async fn sample_primary(replicas: Weak<Replicas>) {
    loop {
        let Some(set) = replicas.upgrade() else {
            return;
        };
        let interval = if set.max_lag.is_some() {
            IDLE_POLL
        } else {
            LAG_SAMPLE
        };
        let at = Instant::now();
        if let Ok(position) = set.clock.now().await
            && let Ok(mut history) = set.history.lock()
        {
            if history.len() >= HISTORY {
                history.pop_front();
            }
            history.push_back((at, position));
        }
        drop(set);
        tokio::time::sleep(interval).await;
    }
}
