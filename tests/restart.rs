//! Restarts without a failed request: under a continuous load of reads and writes over
//! keep-alive connections, a second `relata serve` binds the first one's address, the
//! first gets SIGTERM and drains (see `relata::http::common::drain`), three times over; no request may
//! fail and every write answered 201 must be there at the end. On a SQLite file shared by
//! both processes, and on a PostgreSQL server of the test's own.
//!
//! Each test runs in a network namespace of its own with `net.ipv4.tcp_migrate_req = 1`,
//! the setting operators need: without it Linux resets the connections still queued on
//! the listener a draining server closes. Where the test cannot make a namespace (not
//! root), it needs that setting on the machine and fails, saying so, without it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::private_pg::PrivatePostgres;
use support::{Server, login, register, try_request};

/// Client threads sending requests for the whole test, over keep-alive connections.
const CLIENTS: usize = 6;
/// Client threads opening a connection for each request (`Connection: close`), which
/// keeps connections arriving in the listeners' accept queues: with this many, a run
/// with `tcp_migrate_req = 0` saw a connection reset on each try (1 of about 9,500
/// requests), and none with it set.
const ONE_SHOT_CLIENTS: usize = 16;
/// Times the serving process is replaced.
const RESTARTS: usize = 3;
const MIGRATE_SETTING: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

/// Moves this test's thread, and so the servers, PostgreSQL and client threads it starts,
/// into a network namespace of its own where closed listeners hand their queued
/// connections on (`tcp_migrate_req = 1`), leaving the machine's setting alone. `false`
/// (after saying why) where that cannot be done and the machine's setting is not 1 either:
/// the test then cannot hold, and is skipped, unless `RELATA_REQUIRE_NETNS` is set (CI
/// sets it), which makes it fail instead.
fn use_a_network_that_migrates_queued_connections() -> bool {
    // SAFETY: unshare(2) with CLONE_NEWNET only changes the calling thread's namespace.
    let why = if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        match up {
            Ok(status) if status.success() => {
                std::fs::write(MIGRATE_SETTING, "1")
                    .expect("setting tcp_migrate_req in the namespace");
                return true;
            }
            other => format!("`ip link set lo up` (iproute2) failed: {other:?}"),
        }
    } else {
        format!(
            "unshare(CLONE_NEWNET) failed, it needs root: {}",
            std::io::Error::last_os_error()
        )
    };
    let setting = std::fs::read_to_string(MIGRATE_SETTING).unwrap_or_default();
    if setting.trim() == "1" {
        return true;
    }
    let message = format!(
        "this test needs a network namespace of its own ({why}) or net.ipv4.tcp_migrate_req = 1 \
         on the machine: without it Linux resets the connections queued on the listener of a \
         draining server, and their requests fail"
    );
    assert!(
        std::env::var_os("RELATA_REQUIRE_NETNS").is_none(),
        "RELATA_REQUIRE_NETNS is set: {message}"
    );
    eprintln!("SKIPPED: {message}");
    false
}

/// An answer read whole.
struct Answer {
    status: u16,
    body: String,
    /// The server said `Connection: close`.
    close: bool,
}

/// A plain HTTP/1.1 client on one keep-alive connection, as a pooling client behaves: it
/// reuses its connection until the server says `Connection: close` or is seen to have
/// closed it after a complete answer, then opens a new one. A one-shot client asks for
/// `Connection: close` and opens a connection for each request.
struct Client {
    addr: String,
    one_shot: bool,
    connection: Option<BufReader<TcpStream>>,
    connections_opened: usize,
}

impl Client {
    fn new(addr: &str, one_shot: bool) -> Client {
        Client {
            addr: addr.to_string(),
            one_shot,
            connection: None,
            connections_opened: 0,
        }
    }

    /// Sends one request and reads its answer; `Err` says why no complete answer came.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> Result<Answer, String> {
        let mut connection = match self.connection.take().filter(still_open) {
            Some(connection) => connection,
            None => {
                let stream = TcpStream::connect(&self.addr).map_err(|e| format!("connect: {e}"))?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .map_err(|e| format!("set_read_timeout: {e}"))?;
                self.connections_opened += 1;
                BufReader::new(stream)
            }
        };
        let body = body.unwrap_or("");
        let close = if self.one_shot {
            "Connection: close\r\n"
        } else {
            ""
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\n\
             {close}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        connection
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| format!("sending: {e}"))?;
        let answer = read_answer(&mut connection)?;
        if !answer.close && !self.one_shot {
            self.connection = Some(connection);
        }
        Ok(answer)
    }
}

/// Whether a kept connection can carry another request: nothing unread is waiting on it
/// and the server has not closed it (a read that would block; end of stream means closed).
fn still_open(connection: &BufReader<TcpStream>) -> bool {
    let stream = connection.get_ref();
    if !connection.buffer().is_empty() || stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(
        stream.peek(&mut [0; 1]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    open && stream.set_nonblocking(false).is_ok()
}

/// Reads one HTTP/1.1 answer: status line, headers, and a body framed by
/// `Content-Length` or chunked.
fn read_answer(connection: &mut BufReader<TcpStream>) -> Result<Answer, String> {
    let mut line = String::new();
    let read_line = |connection: &mut BufReader<TcpStream>, line: &mut String| {
        line.clear();
        match connection.read_line(line) {
            Ok(0) => Err("the connection closed before a complete answer".to_string()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("reading: {e}")),
        }
    };
    let status_line = read_line(connection, &mut line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not a status line: {status_line:?}"))?;
    let (mut length, mut chunked, mut close) = (0usize, false, false);
    loop {
        let header = read_line(connection, &mut line)?;
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(format!("not a header: {header:?}"));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse().map_err(|_| "bad Content-Length")?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size = read_line(connection, &mut line)?;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size: {size:?}"))?;
            let mut chunk = vec![0; size + 2];
            connection
                .read_exact(&mut chunk)
                .map_err(|e| format!("reading a chunk: {e}"))?;
            body.extend_from_slice(&chunk[..size]);
            if size == 0 {
                break;
            }
        }
    } else {
        body.resize(length, 0);
        connection
            .read_exact(&mut body)
            .map_err(|e| format!("reading the body: {e}"))?;
    }
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        close,
    })
}

/// What one client thread saw.
#[derive(Debug, Default)]
struct Tally {
    requests: usize,
    /// Ids of the posts answered 201.
    acknowledged: BTreeSet<i64>,
    /// Requests with no complete answer, or answered 5xx.
    failures: Vec<String>,
    /// Answers other than the expected 200/201 that are not failures (4xx), by status.
    unexpected: BTreeMap<u16, usize>,
    connections: usize,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.acknowledged.extend(other.acknowledged);
        self.failures.extend(other.failures);
        for (status, n) in other.unexpected {
            *self.unexpected.entry(status).or_default() += n;
        }
        self.connections += other.connections;
    }
}

/// One client: alternates a read of the newest posts with a new post until told to stop.
fn load(client: Client, name: String, token: String, stop: Arc<AtomicBool>) -> Tally {
    let mut client = client;
    let mut tally = Tally::default();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let write = n % 2 == 1;
        let (what, answer) = if write {
            let post = json!({"title": format!("{name} post {n}"), "content": "restart"});
            let answer = client.send("POST", "/api/v1/posts", &token, Some(&post.to_string()));
            ("POST /api/v1/posts", answer)
        } else {
            let answer = client.send("GET", "/api/v1/posts?limit=5", &token, None);
            ("GET /api/v1/posts", answer)
        };
        tally.requests += 1;
        match answer {
            Err(why) => tally.failures.push(format!("{name} {what}: {why}")),
            Ok(a) if a.status >= 500 => tally
                .failures
                .push(format!("{name} {what}: {} {}", a.status, a.body)),
            Ok(a) if write && a.status == 201 => {
                let created: Value = serde_json::from_str(&a.body).expect("a post as JSON");
                tally
                    .acknowledged
                    .insert(created["id"].as_i64().expect("the post's id"));
            }
            Ok(a) if !write && a.status == 200 => {}
            Ok(a) => *tally.unexpected.entry(a.status).or_default() += 1,
        }
    }
    tally.connections = client.connections_opened;
    tally
}

/// The ids of every post the server at `addr` lists, following `next_cursor`.
fn all_post_ids(addr: &str) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/posts?limit=100&cursor={c}"),
            None => "/api/v1/posts?limit=100".to_string(),
        };
        let (status, body) =
            try_request(addr, "GET", &url, None, None).expect("the last server answers");
        assert_eq!(status, 200, "{url}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for item in page["items"].as_array().unwrap() {
            ids.insert(item["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

/// Replaces the server `RESTARTS` times under load, the way an operator restarts relata:
/// start the new process on the same address, wait until it listens, SIGTERM the old one.
fn restart_under_load(dir: &std::path::Path, database_url: &str) {
    let envs = [("DATABASE_URL", database_url)];
    let mut serving = Server::start(dir, &envs);
    let addr = serving.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS + ONE_SHOT_CLIENTS)
        .map(|c| {
            let name = format!("restart{c}");
            register(&addr, &name);
            let (token, _) = login(&addr, &name);
            let client = Client::new(&addr, c >= CLIENTS);
            let stop = stop.clone();
            thread::spawn(move || load(client, name, token, stop))
        })
        .collect();

    thread::sleep(Duration::from_millis(1000));
    for restart in 0..RESTARTS {
        let next = Server::start_on(dir, &addr, &envs);
        assert_eq!(
            next.addr, addr,
            "restart {restart}: the new server shares the address"
        );
        // Both serve for a moment, as they would while an operator checks the new one.
        thread::sleep(Duration::from_millis(500));
        serving.signal("-TERM");
        let status = serving.wait_exit(Duration::from_secs(30));
        assert!(
            status.success(),
            "restart {restart}: the old server exits with {status}"
        );
        serving = next;
        thread::sleep(Duration::from_millis(1000));
    }
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for client in clients {
        tally.merge(client.join().expect("a client thread"));
    }

    let listed = all_post_ids(&addr);
    let missing: Vec<_> = tally.acknowledged.difference(&listed).collect();
    let backend = database_url.split(':').next().unwrap_or("?");
    eprintln!(
        "restart on {backend}: {RESTARTS} restarts, {} requests sent on {} connections, {} writes acknowledged, {} found, {} failed requests, other answers {:?}",
        tally.requests,
        tally.connections,
        tally.acknowledged.len(),
        tally.acknowledged.len() - missing.len(),
        tally.failures.len(),
        tally.unexpected,
    );
    assert!(
        tally.failures.is_empty(),
        "failed requests: {:#?}",
        tally.failures
    );
    assert!(
        missing.is_empty(),
        "acknowledged posts missing: {missing:?}"
    );
    assert!(
        tally.unexpected.is_empty(),
        "answers other than 200 and 201: {:?}",
        tally.unexpected
    );
    assert!(
        tally.connections > CLIENTS * RESTARTS,
        "the clients reconnected only {} times: the restarts were not under load",
        tally.connections
    );
}

#[test]
fn restarting_three_times_under_load_fails_no_request_and_loses_no_write_on_sqlite() {
    if !use_a_network_that_migrates_queued_connections() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One file, both processes: WAL mode and the busy timeout work across processes.
    let url = format!("sqlite://{}", dir.path().join("relata.db").display());
    restart_under_load(dir.path(), &url);
}

#[test]
fn restarting_three_times_under_load_fails_no_request_and_loses_no_write_on_postgres() {
    if !use_a_network_that_migrates_queued_connections() {
        return;
    }
    // Started inside the namespace, so the servers reach it on its loopback.
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    restart_under_load(dir.path(), &pg.url());
}
