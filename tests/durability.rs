//! I5, every write answered 2xx is durable: a real `relata serve` under a write load is
//! killed with SIGKILL, restarted on the same database, and must serve every user, post
//! and comment it had acknowledged; `relata check` must find the database clean. Three
//! cycles, on a SQLite file and, when `TEST_DATABASE_URL` is set, on a PostgreSQL database
//! created for the test.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is in the WAL file (in the
//! operating system's cache) before the answer leaves, which a killed process cannot undo.
//! Only an operating-system crash or power loss could lose the last commits, and a process
//! test cannot show that either way.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::{BIN, Server, try_request};

/// Writes running at once against the server.
const WRITERS: usize = 4;
/// Kill-and-restart cycles: 3, or `RELATA_DURABILITY_CYCLES` (the soak, `bench/soak.sh`,
/// runs 20).
fn cycles() -> usize {
    std::env::var("RELATA_DURABILITY_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// What the server acknowledged with a 2xx: id → the text it was given.
#[derive(Debug, Default)]
struct Acknowledged {
    users: BTreeMap<i64, String>,
    posts: BTreeMap<i64, String>,
    comments: BTreeMap<i64, String>,
    /// Answers of 5xx seen under load (there must be none).
    server_errors: Vec<String>,
}

impl Acknowledged {
    fn merge(&mut self, other: Acknowledged) {
        self.users.extend(other.users);
        self.posts.extend(other.posts);
        self.comments.extend(other.comments);
        self.server_errors.extend(other.server_errors);
    }

    fn len(&self) -> usize {
        self.users.len() + self.posts.len() + self.comments.len()
    }
}

/// One writer: registers a user, logs in, then creates posts and comments on them until
/// told to stop or until the server stops answering. Records every 2xx.
fn write_until_stopped(addr: String, name: String, stop: Arc<AtomicBool>) -> Acknowledged {
    let mut acked = Acknowledged::default();
    let register = json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"});
    let Some((status, body)) = try_request(
        &addr,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(&register.to_string()),
    ) else {
        return acked;
    };
    if status != 201 {
        acked
            .server_errors
            .extend(server_error("register", status, &body));
        return acked;
    }
    let user: Value = serde_json::from_str(&body).unwrap();
    acked
        .users
        .insert(user["id"].as_i64().unwrap(), name.clone());

    let login = json!({"login": name, "password": "password123"});
    let Some((status, body)) = try_request(
        &addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&login.to_string()),
    ) else {
        return acked;
    };
    if status != 200 {
        acked
            .server_errors
            .extend(server_error("login", status, &body));
        return acked;
    }
    let pair: Value = serde_json::from_str(&body).unwrap();
    let token = pair["access_token"].as_str().unwrap().to_string();

    let mut last_post = None;
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (path, body, text) = match last_post {
            Some(post) if n % 3 == 2 => {
                let text = format!("{name} comment {n}");
                (
                    format!("/api/v1/posts/{post}/comments"),
                    json!({"body": text}),
                    text,
                )
            }
            _ => {
                let text = format!("{name} post {n}");
                (
                    "/api/v1/posts".to_string(),
                    json!({"title": text, "content": "durable"}),
                    text,
                )
            }
        };
        let Some((status, answer)) =
            try_request(&addr, "POST", &path, Some(&token), Some(&body.to_string()))
        else {
            break;
        };
        if status != 201 {
            acked
                .server_errors
                .extend(server_error(&path, status, &answer));
            continue;
        }
        let created: Value = serde_json::from_str(&answer).unwrap();
        let id = created["id"].as_i64().unwrap();
        if path == "/api/v1/posts" {
            acked.posts.insert(id, text);
            last_post = Some(id);
        } else {
            acked.comments.insert(id, text);
        }
    }
    acked
}

/// A note of a 5xx answer; `None` for any other status.
fn server_error(what: &str, status: u16, body: &str) -> Option<String> {
    (status >= 500).then(|| format!("{what}: {status} {body}"))
}

/// Every item of a list endpoint, following `next_cursor`: id → the item.
fn collect(addr: &str, path: &str) -> BTreeMap<i64, Value> {
    let mut items = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let (status, body) =
            try_request(addr, "GET", &url, None, None).expect("the restarted server answers");
        assert_eq!(status, 200, "{url}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for item in page["items"].as_array().unwrap() {
            items.insert(item["id"].as_i64().unwrap(), item.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

/// The acknowledged writes that the server at `addr` serves as they were written, and a
/// note of each one it does not.
fn find_served(addr: &str, acked: &Acknowledged) -> (usize, Vec<String>) {
    let mut missing = Vec::new();
    let mut check =
        |kind: &str, served: &BTreeMap<i64, Value>, field: &str, id: &i64, text: &str| {
            if served.get(id).is_none_or(|item| item[field] != *text) {
                missing.push(format!(
                    "acknowledged {kind} {id} ({text}) is gone or changed"
                ));
            }
        };
    let users = collect(addr, "/api/v1/users");
    for (id, name) in &acked.users {
        check("user", &users, "username", id, name);
    }
    let posts = collect(addr, "/api/v1/posts");
    for (id, title) in &acked.posts {
        check("post", &posts, "title", id, title);
    }
    let mut comments = BTreeMap::new();
    for id in acked.users.keys() {
        comments.extend(collect(addr, &format!("/api/v1/users/{id}/comments")));
    }
    for (id, body) in &acked.comments {
        check("comment", &comments, "body", id, body);
    }
    (acked.len() - missing.len(), missing)
}

/// Asserts that the server at `addr` serves everything in `acked`, as it was written.
fn assert_all_served(addr: &str, acked: &Acknowledged) {
    let (_, missing) = find_served(addr, acked);
    assert!(missing.is_empty(), "{missing:#?}");
}

/// `relata check` on the database; panics with its report unless it is clean.
fn assert_check_is_clean(database_url: &str) {
    let out = Command::new(BIN)
        .arg("check")
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("relata check runs");
    assert!(
        out.status.success(),
        "relata check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The kill-and-restart cycles against `database_url`, with servers run in `dir`.
fn kill_restart_cycles(dir: &std::path::Path, database_url: &str) {
    let envs = [("DATABASE_URL", database_url)];
    let mut acked = Acknowledged::default();
    let cycles = cycles();
    for cycle in 0..cycles {
        let mut server = Server::start(dir, &envs);
        assert_all_served(&server.addr, &acked);

        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, stop) = (server.addr.clone(), stop.clone());
                thread::spawn(move || write_until_stopped(addr, format!("c{cycle}w{w}"), stop))
            })
            .collect();
        // Kill while the writers are busy: some requests are in flight at that moment.
        thread::sleep(Duration::from_millis(2500));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let before = acked.len();
        for writer in writers {
            acked.merge(writer.join().expect("a writer thread"));
        }
        assert!(
            acked.server_errors.is_empty(),
            "5xx under load: {:?}",
            acked.server_errors
        );
        assert!(
            acked.len() > before + WRITERS,
            "cycle {cycle} acknowledged too few writes to test anything ({})",
            acked.len() - before
        );
        assert_check_is_clean(database_url);
    }
    let server = Server::start(dir, &envs);
    let (found, missing) = find_served(&server.addr, &acked);
    let backend = database_url.split(':').next().unwrap_or("?");
    println!(
        "durability on {backend}: {} writes acknowledged across {cycles} SIGKILLs ({} users, {} posts, {} comments), {found} found after restart",
        acked.len(),
        acked.users.len(),
        acked.posts.len(),
        acked.comments.len()
    );
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn writes_acknowledged_before_a_sigkill_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relata.db").display());
    kill_restart_cycles(dir.path(), &url);
}

/// A PostgreSQL database made for one test and dropped after it, even when it fails.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(admin_url: &str) -> PgDatabase {
        let name = format!("relata_durability_{}", std::process::id());
        run_sql(
            admin_url,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        );
        run_sql(admin_url, &format!("CREATE DATABASE \"{name}\""));
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let root = match base.rfind('/') {
            Some(i) if i > base.find("://").map(|s| s + 2).unwrap_or(0) => &base[..i],
            _ => base,
        };
        PgDatabase {
            admin_url: admin_url.to_string(),
            url: format!("{root}/{name}{query}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        run_sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

fn run_sql(url: &str, sql: &str) {
    use sea_orm::ConnectionTrait;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = sea_orm::Database::connect(url)
            .await
            .expect("TEST_DATABASE_URL answers");
        db.execute_unprepared(sql).await.expect(sql);
        db.close().await.ok();
    });
}

#[test]
fn writes_acknowledged_before_a_sigkill_survive_a_restart_on_postgres() {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let db = PgDatabase::create(&admin_url);
    let dir = tempfile::tempdir().unwrap();
    kill_restart_cycles(dir.path(), &db.url);
}
