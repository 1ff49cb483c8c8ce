//! Faults of the database under load (issue 14), against real `relata serve` processes.
//!
//! PostgreSQL: a private server (see `support::private_pg`) is stopped while writers and
//! readers run. Every request must still be answered within the request timeout, as 503
//! problem+json and never a 500 or a hang, and `/api/v1/health` must say 503; when the
//! server is started again the same `relata serve` process recovers without a restart,
//! and every write it acknowledged is there.
//!
//! SQLite: the database lives on a small tmpfs that is then filled up. Writes must be
//! refused with 507 (or 503) problem+json, reads go on, nothing panics; once space is
//! freed writes succeed again, and after a SIGKILL and a restart every acknowledged write
//! is there.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::private_pg::PrivatePostgres;
use support::{Server, try_request};

/// `RELATA_REQUEST_TIMEOUT_SECS` of the servers under test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Load threads.
const WORKERS: usize = 3;

/// What one load thread saw.
#[derive(Debug, Default)]
struct Seen {
    /// Posts answered 201: id → title.
    acked: Vec<(i64, String)>,
    /// Answers by status.
    statuses: std::collections::BTreeMap<u16, usize>,
    /// Everything that breaks the rules: a 500, a body that is not problem+json on an
    /// error, a request with no answer, an answer slower than the request timeout.
    violations: Vec<String>,
}

/// Registers `name` and logs in; returns the access token.
fn account(addr: &str, name: &str) -> String {
    support::register(addr, name);
    support::login(addr, name).0
}

/// Whether `body` is a problem+json body for `status` whose code is one of `codes`.
fn is_problem(status: u16, body: &str, codes: &[&str]) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|p| {
        p["status"] == status && p["code"].as_str().is_some_and(|c| codes.contains(&c))
    })
}

/// Alternates writes (a post) and reads (a page of posts) until `stop`, checking each
/// answer against the rules.
fn load(addr: String, token: String, name: String, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let title = format!("{name} post {n}");
        let write = n % 2 == 0;
        let started = Instant::now();
        let answer = if write {
            let body = json!({"title": title, "content": "under faults"}).to_string();
            try_request(&addr, "POST", "/api/v1/posts", Some(&token), Some(&body))
        } else {
            try_request(&addr, "GET", "/api/v1/posts?limit=5", Some(&token), None)
        };
        let took = started.elapsed();
        let what = if write { "POST /posts" } else { "GET /posts" };
        let Some((status, body)) = answer else {
            seen.violations.push(format!("{what}: no answer"));
            continue;
        };
        *seen.statuses.entry(status).or_default() += 1;
        if took > REQUEST_TIMEOUT + Duration::from_secs(2) {
            seen.violations
                .push(format!("{what}: answered {status} after {took:?}"));
        }
        match status {
            201 if write => {
                let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
                    .as_i64()
                    .unwrap();
                seen.acked.push((id, title));
            }
            200 if !write => {}
            503 if is_problem(503, &body, &["database_unavailable", "timeout"]) => {}
            507 if write && is_problem(507, &body, &["storage_full"]) => {}
            _ => seen.violations.push(format!("{what}: {status} {body}")),
        }
        if status >= 500 {
            // Not a busy loop against a server that refuses everything.
            thread::sleep(Duration::from_millis(20));
        }
    }
    seen
}

/// Load threads against `addr`, one account each.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<Seen>>,
}

impl Load {
    fn start(addr: &str, prefix: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..WORKERS)
            .map(|w| {
                let name = format!("{prefix}{w}");
                let token = account(addr, &name);
                let (addr, stop) = (addr.to_string(), stop.clone());
                thread::spawn(move || load(addr, token, name, stop))
            })
            .collect();
        Load { stop, threads }
    }

    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Seen::default();
        for t in self.threads {
            let seen = t.join().expect("a load thread");
            all.acked.extend(seen.acked);
            for (status, n) in seen.statuses {
                *all.statuses.entry(status).or_default() += n;
            }
            all.violations.extend(seen.violations);
        }
        all
    }
}

/// Asserts that every acknowledged post is served, with its title.
fn assert_all_served(addr: &str, acked: &[(i64, String)]) {
    for (id, title) in acked {
        let (status, body) = try_request(addr, "GET", &format!("/api/v1/posts/{id}"), None, None)
            .expect("the server answers");
        assert_eq!(status, 200, "acknowledged post {id} ({title}): {body}");
        let post: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(post["title"], *title);
    }
}

fn health(addr: &str) -> (u16, String) {
    try_request(addr, "GET", "/api/v1/health", None, None).expect("health answers")
}

/// Polls health until it is `status`, for at most `within`.
fn wait_for_health(addr: &str, status: u16, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let answer = health(addr);
        if answer.0 == status || Instant::now() > deadline {
            return answer;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

fn server_envs(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_string()),
        (
            "RELATA_REQUEST_TIMEOUT_SECS",
            REQUEST_TIMEOUT.as_secs().to_string(),
        ),
    ]
}

fn start_server(dir: &std::path::Path, envs: &[(&'static str, String)]) -> Server {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(dir, &envs)
}

#[test]
fn postgres_stopped_under_load_is_503_and_the_same_process_recovers() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), &server_envs(&pg.url()));
    let load = Load::start(&server.addr, "writer");
    thread::sleep(Duration::from_millis(1500));

    pg.stop();
    thread::sleep(Duration::from_millis(2500));
    let (status, body) = health(&server.addr);
    assert!(
        status == 503 && is_problem(503, &body, &["database_unavailable"]),
        "health while PostgreSQL is down: {status} {body}"
    );

    pg.start_again();
    let (status, body) = wait_for_health(&server.addr, 200, Duration::from_secs(20));
    assert_eq!(status, 200, "health after PostgreSQL is back: {body}");
    // Load after the recovery, so that it must succeed again.
    thread::sleep(Duration::from_millis(1500));
    let seen = load.finish();

    assert!(seen.violations.is_empty(), "{:#?}", seen.violations);
    assert!(
        seen.statuses.get(&503).copied().unwrap_or(0) > 0,
        "the outage was seen: {:?}",
        seen.statuses
    );
    assert!(seen.acked.len() > WORKERS, "{:?}", seen.statuses);
    assert_all_served(&server.addr, &seen.acked);
    // Writes work again in the same process.
    let token = account(&server.addr, "after");
    let (status, body) = try_request(
        &server.addr,
        "POST",
        "/api/v1/posts",
        Some(&token),
        Some(&json!({"title": "after", "content": "recovered"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    println!("answers by status: {:?}", seen.statuses);
}

/// A small tmpfs, unmounted on drop; `None` (after saying why) where mounting is not
/// allowed.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs to fill up (needs root): {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file into `dir` until the file system is full.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while file.write_all(&chunk).is_ok() {}
    while file.write_all(&[0u8]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn sqlite_on_a_full_disk_refuses_writes_with_507_and_loses_nothing() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let url = format!("sqlite://{}", disk.path().join("relata.db").display());
    let work = tempfile::tempdir().unwrap();
    let envs = server_envs(&url);
    let mut server = start_server(work.path(), &envs);
    let token = account(&server.addr, "writer");
    let post = |server: &Server, n: usize| {
        let body = json!({"title": format!("post {n}"), "content": "x".repeat(2000)});
        try_request(
            &server.addr,
            "POST",
            "/api/v1/posts",
            Some(&token),
            Some(&body.to_string()),
        )
        .expect("the server answers")
    };
    let mut acked = Vec::new();
    for n in 0..20 {
        let (status, body) = post(&server, n);
        assert_eq!(status, 201, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap();
        acked.push((id, format!("post {n}")));
    }

    let filler = fill(disk.path());
    // Writes go on until SQLite needs a page it cannot get (the WAL may have room left).
    let mut refused = Vec::new();
    for n in 20..2000 {
        let (status, body) = post(&server, n);
        match status {
            201 => {
                let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
                    .as_i64()
                    .unwrap();
                acked.push((id, format!("post {n}")));
            }
            _ => {
                refused.push((status, body));
                if refused.len() == 5 {
                    break;
                }
            }
        }
    }
    assert!(
        !refused.is_empty(),
        "a full disk refused no write: {} acked",
        acked.len()
    );
    for (status, body) in &refused {
        assert!(
            (*status == 507 && is_problem(507, body, &["storage_full"]))
                || (*status == 503 && is_problem(503, body, &["database_unavailable"])),
            "a write on a full disk: {status} {body}"
        );
    }
    // Reads and the process go on.
    let (status, body) =
        try_request(&server.addr, "GET", "/api/v1/posts?limit=5", None, None).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "relata is alive"
    );

    // Space again: writes succeed in the same process.
    std::fs::remove_file(filler).unwrap();
    let (status, body) = post(&server, 9999);
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    acked.push((id, "post 9999".into()));

    // Nothing acknowledged was lost, also across a SIGKILL.
    server.kill9();
    let server = start_server(work.path(), &envs);
    assert_all_served(&server.addr, &acked);
    println!(
        "{} writes acknowledged, refused with {:?}",
        acked.len(),
        refused.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
}
