//! Read replicas (issue 24) on real streaming replicas: a private primary and two replicas
//! of it started from PostgreSQL's binaries (see `support::private_pg`), one applying
//! what it receives 300 ms late, and `relata serve` processes with `RELATA_READ_REPLICAS`
//! naming both. Reads land on replicas (each answer's `Server-Timing` names the server its
//! reads went to); a write answered by one process is read at once through another even
//! while the late replica lacks it; a logout is effective at once; stopping a replica
//! under load fails no request; and start-up refuses what cannot be a replica.

mod support;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::private_pg::PrivatePostgres;
use support::{BIN, Server};

/// The late replica's apply delay.
const DELAY: Duration = Duration::from_millis(300);

/// A primary, a replica that keeps up and one that applies 300 ms late; `None` where
/// PostgreSQL is not installed.
struct Cluster {
    primary: PrivatePostgres,
    prompt: PrivatePostgres,
    late: PrivatePostgres,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let primary = PrivatePostgres::start()?;
        let prompt = primary.replica(None);
        let late = primary.replica(Some(DELAY));
        Some(Cluster {
            primary,
            prompt,
            late,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn replicas(&self) -> String {
        format!("{},{}", self.prompt.url(), self.late.url())
    }

    /// A `relata serve` on the primary, reading on both replicas.
    fn server(&self, extra: &[(&str, &str)]) -> Server {
        let url = self.primary.url();
        let replicas = self.replicas();
        let mut envs = vec![
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", replicas.as_str()),
            ("RELATA_LOGINS_PER_MINUTE", "0"),
            ("RELATA_REGISTRATIONS_PER_MINUTE", "0"),
        ];
        envs.extend_from_slice(extra);
        Server::start(self.dir.path(), &envs)
    }
}

/// One answer: status, headers (names in lower case) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The server its reads went to, from `Server-Timing: …, read;desc="replica1";dur=…`.
    fn read_server(&self) -> Option<String> {
        let timing = self.header("server-timing")?;
        let read = timing
            .split(',')
            .map(str::trim)
            .find(|m| m.starts_with("read;"))?;
        let desc = read.split(';').find_map(|p| p.strip_prefix("desc="))?;
        Some(desc.trim_matches('"').to_string())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One request on its own connection; `None` when the connection fails or breaks.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<Answer> {
    let body = body.map(Value::to_string);
    let (status, headers, body) =
        support::try_exchange(addr, method, path, token, body.as_deref())?;
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn ok(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let answer = request(addr, method, path, token, body.as_ref())
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    assert!(
        answer.status < 300,
        "{method} {path}: {} {}",
        answer.status,
        answer.body
    );
    answer
}

/// Registers `name` on `addr` and logs in; the access token.
fn user(addr: &str, name: &str) -> String {
    support::register(addr, name);
    support::login(addr, name).0
}

/// The value of one metric series (`name{labels}` as written in the exposition).
fn metric(addr: &str, series: &str) -> Option<f64> {
    let (_, text) = support::http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: relata\r\nConnection: close\r\n\r\n",
    );
    text.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// Waits until `cond` holds (at most `within`).
fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reads_land_on_replicas_and_never_miss_an_answered_write() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let writer = cluster.server(&[]);
    let reader = cluster.server(&[]);
    let (a, b) = (writer.addr.as_str(), reader.addr.as_str());
    let token = user(a, "alice");
    let post = ok(
        a,
        "POST",
        "/api/v1/posts",
        Some(&token),
        Some(json!({"title": "Replicas", "content": "Reads elsewhere."})),
    )
    .json();
    let post_id = post["id"].as_i64().unwrap();
    // The late replica applies the schema the servers created a few hundred milliseconds
    // late; its count of a comment below needs the table to be there.
    eventually(
        Duration::from_secs(10),
        "the late replica has the comments table",
        || {
            cluster
                .late
                .query("SELECT to_regclass('public.comments') IS NOT NULL")
                == "t"
        },
    );

    // A write answered on one process, then a read on the other at once: the read sees
    // it, although the late replica has not applied it yet.
    let mut on_replica = 0;
    let mut late_lacked = 0;
    let rounds = 20;
    for i in 0..rounds {
        let comment = ok(
            a,
            "POST",
            &format!("/api/v1/posts/{post_id}/comments"),
            Some(&token),
            Some(json!({"body": format!("comment {i}")})),
        )
        .json();
        let id = comment["id"].as_i64().unwrap();
        let page = ok(
            b,
            "GET",
            &format!("/api/v1/posts/{post_id}/comments?limit=100"),
            None,
            None,
        );
        let ids: Vec<i64> = page.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert!(
            ids.contains(&id),
            "round {i}: comment {id} missing from a read after its write ({:?}): {ids:?}",
            page.read_server()
        );
        let server = page
            .read_server()
            .expect("Server-Timing names the read server");
        if server.starts_with("replica") {
            on_replica += 1;
        }
        // The late replica is the second one named: `replica2`. It must not have served
        // this read while it lacked the comment.
        let late_has = cluster
            .late
            .query(&format!("SELECT count(*) FROM comments WHERE id = {id}"));
        if late_has == "0" {
            late_lacked += 1;
            assert_ne!(
                server, "replica2",
                "round {i}: the late replica served a read it could not have"
            );
        }
    }
    eprintln!(
        "{on_replica} of {rounds} reads after a write ran on a replica; the late replica lacked the write {late_lacked} times"
    );
    assert!(late_lacked > rounds / 2, "the late replica lags for real");
    assert!(
        on_replica > rounds / 2,
        "reads after a write mostly run on the prompt replica"
    );

    // Without a write in between, every table read of a GET lands on a replica.
    let mut servers = std::collections::BTreeMap::<String, usize>::new();
    thread::sleep(DELAY * 2);
    for _ in 0..20 {
        let answer = ok(
            b,
            "GET",
            "/api/v1/posts?limit=10&include=author.profile,comments.author,tags&counts=comments",
            Some(&token),
            None,
        );
        *servers.entry(answer.read_server().unwrap()).or_default() += 1;
    }
    eprintln!("reads with no write before them, by server: {servers:?}");
    // (A read may still fall back when the primary has WAL its replicas cannot have yet:
    // a background record not flushed for up to `wal_writer_delay`.)
    assert!(
        servers.get("primary").copied().unwrap_or(0) <= 2,
        "a quiet database's reads run on replicas: {servers:?}"
    );
    assert!(
        servers.contains_key("replica1") && servers.contains_key("replica2"),
        "both caught-up replicas take turns: {servers:?}"
    );

    // A logout on one process is effective at once on the other (the token check reads
    // the revocation on a replica only once that replica has it).
    for i in 0..10 {
        let (access, _) = support::login(a, "alice");
        let me = ok(b, "GET", "/api/v1/auth/me", Some(&access), None);
        assert_eq!(me.json()["username"], "alice");
        let out = request(a, "POST", "/api/v1/auth/logout", Some(&access), None).unwrap();
        assert_eq!(out.status, 204, "{}", out.body);
        let me = request(b, "GET", "/api/v1/auth/me", Some(&access), None).unwrap();
        assert_eq!(
            me.status,
            401,
            "round {i}: a revoked token was accepted ({:?})",
            me.read_server()
        );
    }

    // The metrics say where reads went, and each replica's state and lag.
    assert_eq!(
        metric(
            b,
            "relata_db_replica_state{replica=\"replica1\",state=\"up\"}"
        ),
        Some(1.0)
    );
    let replica_units = metric(b, "relata_db_read_units_total{server=\"replica1\"}").unwrap()
        + metric(b, "relata_db_read_units_total{server=\"replica2\"}").unwrap();
    assert!(
        replica_units >= 40.0,
        "read units on replicas: {replica_units}"
    );
    let positions = metric(b, "relata_db_wal_position_statements_total").unwrap();
    let on_primary = metric(b, "relata_db_read_units_total{server=\"primary\"}").unwrap();
    let waited = metric(b, "relata_db_read_server_wait_microseconds_total").unwrap();
    let units = replica_units + on_primary;
    eprintln!(
        "reader process: {units} read units, {replica_units} on replicas, {on_primary} on the \
         primary; {positions} WAL-position statements (one a second from its lag sampler); \
         {:.0} µs choosing a server per read unit on average",
        waited / units
    );
    assert!(positions >= 1.0);
    assert!(metric(b, "relata_db_replica_lag_bytes{replica=\"replica2\"}").is_some());
    let logged = reader
        .log_lines()
        .into_iter()
        .filter(|l| l["message"] == "request" && l["read_server"].is_string())
        .count();
    assert!(logged > 0, "request log lines name their read server");
}

#[test]
fn a_replica_stopped_under_load_fails_no_request_and_comes_back() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let server = cluster.server(&[]);
    let addr = server.addr.clone();
    let token = user(&addr, "bob");
    for i in 0..5 {
        ok(
            &addr,
            "POST",
            "/api/v1/posts",
            Some(&token),
            Some(json!({"title": format!("Post {i}"), "content": "Load."})),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (addr, token) = (addr.clone(), token.clone());
            let (stop, failed, done) = (stop.clone(), failed.clone(), done.clone());
            thread::spawn(move || {
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let auth = (w % 2 == 0).then_some(token.as_str());
                    let path = if w % 3 == 0 {
                        "/api/v1/auth/me"
                    } else {
                        "/api/v1/posts?limit=5&include=author,comments&counts=comments"
                    };
                    let path = if auth.is_none() && path.ends_with("/me") {
                        "/api/v1/posts?limit=2"
                    } else {
                        path
                    };
                    match request(&addr, "GET", path, auth, None) {
                        Some(a) if a.status == 200 => {}
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.push(other.map(|a| (a.status, a.body)));
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                errors
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(700));
    let before_stop = done.load(Ordering::Relaxed);
    cluster.prompt.stop();
    let stopped_at = Instant::now();
    thread::sleep(Duration::from_millis(1500));
    eventually(Duration::from_secs(5), "replica1 reported down", || {
        metric(
            &addr,
            "relata_db_replica_state{replica=\"replica1\",state=\"down\"}",
        ) == Some(1.0)
    });
    let during_stop = done.load(Ordering::Relaxed) - before_stop;
    cluster.prompt.start_again();
    eventually(Duration::from_secs(10), "replica1 back up", || {
        metric(
            &addr,
            "relata_db_replica_state{replica=\"replica1\",state=\"up\"}",
        ) == Some(1.0)
    });
    let back_at = done.load(Ordering::Relaxed);
    let units_back = metric(&addr, "relata_db_read_units_total{server=\"replica1\"}").unwrap();
    thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let total = done.load(Ordering::Relaxed);
    let failures = metric(
        &addr,
        "relata_db_replica_failures_total{replica=\"replica1\"}",
    );
    eprintln!(
        "{total} requests, {} failed; {during_stop} while replica1 was stopped ({:?} down); \
         replica1 failures seen by Relata: {failures:?}",
        failed.load(Ordering::Relaxed),
        stopped_at.elapsed()
    );
    assert_eq!(errors, Vec::new(), "no request fails when a replica stops");
    assert!(during_stop > 0 && total > back_at);
    // Reads go back to the replica once it is up again.
    let units_after = metric(&addr, "relata_db_read_units_total{server=\"replica1\"}").unwrap();
    assert!(units_after > units_back, "replica1 serves reads again");
}

/// Runs `relata check`-like start-up: `relata serve` with `envs`; its exit status and
/// standard error when it stops within 20 s, `None` when it keeps serving.
fn start_up(dir: &std::path::Path, envs: &[(&str, &str)]) -> Option<(i32, String)> {
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RELATA_READ_REPLICAS")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return Some((status.code().unwrap_or(-1), err));
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn start_up_refuses_what_cannot_be_a_replica_but_not_a_replica_that_is_down() {
    let Some(primary) = PrivatePostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = primary.url();

    // A SQLite database has no replicas.
    let (code, err) = start_up(
        dir.path(),
        &[
            ("DATABASE_URL", "sqlite://relata.db"),
            ("RELATA_READ_REPLICAS", url.as_str()),
        ],
    )
    .expect("refused");
    assert_ne!(code, 0);
    assert!(
        err.contains("RELATA_READ_REPLICAS") && err.contains("not PostgreSQL"),
        "{err}"
    );

    // A URL that is not PostgreSQL's.
    let (code, err) = start_up(
        dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", "mysql://replica/relata"),
        ],
    )
    .expect("refused");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("RELATA_READ_REPLICAS") && err.contains("PostgreSQL URLs"),
        "{err}"
    );

    // A server that answers out of recovery is a primary, not a replica.
    let (code, err) = start_up(
        dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", url.as_str()),
        ],
    )
    .expect("refused");
    assert_ne!(code, 0);
    assert!(
        err.contains("RELATA_READ_REPLICAS") && err.contains("not in recovery"),
        "{err}"
    );

    // A streaming replica, but of another cluster: its replay positions say nothing of
    // this primary's writes.
    let stranger = PrivatePostgres::start().expect("a second private PostgreSQL");
    let strangers_replica = stranger.replica(None);
    let (code, err) = start_up(
        dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", strangers_replica.url().as_str()),
        ],
    )
    .expect("refused");
    assert_ne!(code, 0);
    assert!(
        err.contains("RELATA_READ_REPLICAS") && err.contains("replica of another cluster"),
        "{err}"
    );
    drop(strangers_replica);
    drop(stranger);

    // A replica that is down at start is not an error: reads run on the primary until it
    // answers.
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("postgres://postgres@127.0.0.1:{nobody}/postgres");
    let server = Server::start(
        dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", down.as_str()),
        ],
    );
    let answer = ok(&server.addr, "GET", "/api/v1/posts", None, None);
    assert_eq!(answer.read_server().as_deref(), Some("primary"));
    assert_eq!(
        metric(
            &server.addr,
            "relata_db_replica_state{replica=\"replica1\",state=\"down\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn bounded_staleness_lets_anonymous_reads_skip_the_primary_but_not_signed_in_ones() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // Only the late replica, so that a stale read is visible.
    let url = cluster.primary.url();
    let late = cluster.late.url();
    let server = Server::start(
        cluster.dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("RELATA_READ_REPLICAS", late.as_str()),
            ("RELATA_REPLICA_MAX_LAG_MS", "2000"),
        ],
    );
    let addr = server.addr.as_str();
    let token = user(addr, "carol");
    thread::sleep(DELAY * 2);
    let before = metric(addr, "relata_db_wal_position_statements_total").unwrap();
    let post = ok(
        addr,
        "POST",
        "/api/v1/posts",
        Some(&token),
        Some(json!({"title": "Stale", "content": "Maybe."})),
    )
    .json();
    let path = format!("/api/v1/posts/{}", post["id"]);
    // Signed in: never stale (the primary, as the only replica lags 300 ms).
    let mine = ok(addr, "GET", &path, Some(&token), None);
    assert_eq!(mine.read_server().as_deref(), Some("primary"));
    // Anonymous: the late replica, which may not have the post yet (a 404 within 2 s of
    // the write is what the setting trades away).
    let anonymous = request(addr, "GET", &path, None, None).unwrap();
    assert_eq!(anonymous.read_server().as_deref(), Some("replica1"));
    assert!(matches!(anonymous.status, 200 | 404), "{}", anonymous.body);
    eprintln!(
        "an anonymous read 0 ms after the write: {}",
        anonymous.status
    );
    eventually(
        Duration::from_secs(3),
        "the late replica has the post",
        || request(addr, "GET", &path, None, None).is_some_and(|a| a.status == 200),
    );
    let _ = before;
}
