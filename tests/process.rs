//! The real `relata` binary as operators run it: a fresh start that creates its database,
//! JSON logs, a bad setting refused at start-up, graceful shutdown on SIGTERM, and `relata
//! check`'s exit code.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

use support::{BIN, Server};

#[test]
fn a_fresh_start_creates_relata_db_and_answers_health_with_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    // Set but empty counts as unset: the defaults apply.
    let mut server = Server::start(
        dir.path(),
        &[
            ("RELATA_DB_MAX_CONNECTIONS", ""),
            ("RELATA_JWT_SECRET", " "),
        ],
    );
    let (status, body) = server.get("/api/v1/health");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"{"status":"ok","database":"ok"}"#),
        "{body}"
    );
    assert!(
        dir.path().join("relata.db").exists(),
        "relata.db is created in the working directory"
    );
    std::thread::sleep(Duration::from_millis(200));
    let lines = server.log_lines();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/api/v1/health")
        .unwrap_or_else(|| panic!("a request log line: {lines:?}"));
    assert_eq!(request["status"], 200);
    assert_eq!(request["statements"], 1);
    assert!(request["span"]["request_id"].is_string(), "{request}");
    assert_eq!(request["span"]["path"], "/api/v1/health", "{request}");
    let latency = request["latency_ms"].to_string();
    assert!(
        latency.split('.').nth(1).is_none_or(|d| d.len() <= 3),
        "latency to the microsecond: {latency}"
    );
    // The start-up line says where, on what and which build.
    let listening = &server.listening;
    assert_eq!(listening["database"], "sqlite://relata.db", "{listening}");
    assert_eq!(
        listening["docs"],
        format!("http://{}/docs", server.addr),
        "{listening}"
    );
    assert!(
        listening["version"]
            .as_str()
            .is_some_and(|v| v.contains("API 1.2")),
        "{listening}"
    );
    // A path no route serves is named in its line.
    let (status, _) = server.get("/no/such/path");
    assert_eq!(status, 404);
    std::thread::sleep(Duration::from_millis(200));
    let lines = server.log_lines();
    let unmatched = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "unmatched")
        .unwrap_or_else(|| panic!("an unmatched request's line: {lines:?}"));
    assert_eq!(unmatched["span"]["path"], "/no/such/path", "{unmatched}");
    server.signal("-TERM");
    assert!(server.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn a_setting_of_the_wrong_form_stops_relata_naming_the_variable_and_what_it_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("RELATA_DB_MAX_CONNECTIONS", "ten")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"invalid value "ten" for RELATA_DB_MAX_CONNECTIONS"#),
        "{stderr}"
    );
    assert!(
        stderr.contains("a whole number from 1 to 10000"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("relata.db").exists(),
        "it stops before touching the database"
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let body = r#"{"username":"inflight","email":"inflight@example.com","password":"password123"}"#;
    let (first, rest) = body.split_at(20);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: relata\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server waits for the in-flight request"
    );
    stream.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight request is answered: {answer}"
    );
    assert!(server.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn check_exits_non_zero_when_it_finds_an_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relata.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let clean = run(&["check"]);
    let out = String::from_utf8_lossy(&clean.stdout);
    assert!(clean.status.success(), "{out}");
    // Each table's size, so that one growing without bound shows.
    for line in [
        "rows: login_attempts 0",
        "rows: refresh_tokens 0",
        "rows: roles 2",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in {out}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let db = relata::store::connect(&url, 1).await.unwrap();
        db.execute_unprepared("PRAGMA foreign_keys = OFF").await.unwrap();
        db.execute_unprepared(
            "INSERT INTO posts (author_id, title, content, created_at, updated_at) VALUES (4242, 't', 'c', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        )
        .await
        .unwrap();
    });
    let dirty = run(&["check"]);
    let out = String::from_utf8_lossy(&dirty.stdout);
    assert_eq!(dirty.status.code(), Some(1), "{out}");
    assert!(out.contains("posts.author_id"), "{out}");
    assert!(out.lines().any(|l| l == "rows: posts 1"), "{out}");
}

#[test]
fn migrate_status_lists_the_applied_migration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relata.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let status = run(&["migrate", "status"]);
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.contains("applied") && out.contains("m0001_init"),
        "{out}"
    );
}

#[test]
fn openapi_prints_the_whole_document() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let served = serde_json::to_value(relata::http::v1::openapi::document()).unwrap();
    assert_eq!(
        doc, served,
        "the printed document is the one the server serves"
    );
    assert!(doc["paths"]["/api/v1/users/{id}/roles/{name}"]["put"].is_object());
}

#[test]
fn openapi_piped_into_a_reader_that_stops_early_still_succeeds() {
    let mut child = Command::new(BIN)
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe is closed here, before the document is written out.
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_database_that_cannot_be_opened_is_named_once_with_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        Command::new(BIN)
            .args(["migrate"])
            .env("DATABASE_URL", url)
            .env("RELATA_DB_CONNECT_TIMEOUT_SECS", "2")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // A SQLite file in a directory that does not exist.
    let out = run("sqlite:///nonexistent-dir/relata.db");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/nonexistent-dir/relata.db") && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert_eq!(
        err.matches("unable to open database file").count(),
        1,
        "the cause once: {err}"
    );
    // A server that does not answer: a port nobody listens on refuses at once; one that
    // never answers is cut at the connect timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let out = run(&format!("postgres://relata:secret@127.0.0.1:{port}/relata"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "gave up at the 2 s connect timeout, not after {:?}",
        started.elapsed()
    );
    assert!(
        err.contains(&format!("127.0.0.1:{port}/relata"))
            && err.contains("DATABASE_URL")
            && err.contains("RELATA_DB_CONNECT_TIMEOUT_SECS"),
        "{err}"
    );
    assert!(!err.contains("secret"), "the password stays hidden: {err}");
    drop(silent);
}

#[test]
fn help_says_what_relata_is_and_version_names_the_build() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.starts_with("Relata: a REST service"), "{help}");
    assert!(!help.contains("resolved once at start-up"), "{help}");
    let version = Command::new(BIN).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!("relata {}", env!("CARGO_PKG_VERSION")))
            && version.contains("API 1.2"),
        "{version}"
    );
}
