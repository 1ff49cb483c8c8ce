//! The limits that keep one client from holding the server (issue 8, and SPEC §6): the
//! request timeout, the cap on concurrent connections and per client address, the 1 MiB
//! body limit at its exact boundary, declared and without a `Content-Length`, the body
//! timeout, connections left usable after an early answer, and the header-read deadline
//! for clients that trickle bytes.
//!
//! These limits live in the HTTP layer, below any database; the ones of API 1.2 run on
//! both databases all the same, the older ones once, on SQLite. Raw TCP where a
//! well-behaved client library would hide the behaviour.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db_test;
use crate::helpers::{Backend, TestApp};

async fn spawn(tweak: impl FnOnce(&mut relata::config::Settings)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, tweak)
        .await
        .expect("SQLite always runs")
}

/// A keep-alive request on an open connection; returns the status of its answer.
async fn request_on(stream: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: relata\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_status(stream).await
}

/// Reads until the end of a response's headers and its (`Content-Length`) body; returns
/// the status, or 0 when the connection closed first.
async fn read_status(stream: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return 0,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_in_past_the_request_timeout_is_answered_503_timeout() {
    let app = spawn(|s| {
        s.request_timeout = Duration::from_secs(2);
        s.body_timeout = Duration::from_secs(1);
    })
    .await;
    let (_, token) = app.seed_user("alice").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let body = r#"{"title":"slow","content":"upload"}"#;
    let head = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // A byte every 300 ms: the body never stalls for the body timeout, but takes longer
    // than the request may.
    let mut answer = Vec::new();
    for byte in body.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut chunk = [0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), stream.read(&mut chunk)).await
        {
            answer.extend_from_slice(&chunk[..n]);
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);

    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "the unread rest of the body ends the connection: {answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at the timeout, not when the client gave up"
    );
    let posts = app.get("/api/v1/posts?count=true", None).await;
    assert_eq!(
        posts.body["total"], 0,
        "the timed-out request wrote nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_connection_waits_until_another_closes() {
    let app = spawn(|s| s.max_http_connections = 2).await;
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    let mut second = TcpStream::connect(app.addr).await.unwrap();
    assert_eq!(request_on(&mut first, "/api/v1/health").await, 200);
    assert_eq!(request_on(&mut second, "/api/v1/health").await, 200);

    // The kernel accepts the third connection, but the server does not serve it...
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    third
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: relata\r\n\r\n")
        .await
        .unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(1500), read_status(&mut third)).await;
    assert!(
        waiting.is_err(),
        "a third connection is not served while two are open"
    );

    // ...until one of the two closes.
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(5), read_status(&mut third)).await;
    assert_eq!(served.ok(), Some(200));
    // The second connection was never disturbed.
    assert_eq!(request_on(&mut second, "/api/v1/health").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_exactly_one_mebibyte_is_read_and_one_byte_more_is_413() {
    let app = spawn(|_| {}).await;
    let (_, token) = app.seed_user("alice").await;
    // Valid JSON padded with whitespace to the exact size.
    let body_of = |size: usize| {
        let mut body = br#"{"title":"big","content":"c"}"#.to_vec();
        body.resize(size, b' ');
        body
    };
    let send = |body: Vec<u8>| {
        app.client
            .request(Method::POST, app.url("/api/v1/posts"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let at_limit = send(body_of(relata::BODY_LIMIT)).await.unwrap();
    assert_eq!(at_limit.status(), 201);
    let over = send(body_of(relata::BODY_LIMIT + 1)).await.unwrap();
    assert_eq!(over.status(), 413);
    assert_eq!(
        over.headers()["content-type"],
        "application/problem+json",
        "413 is a problem like every error"
    );

    // Without a Content-Length (chunked), the limit holds while the body streams in.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let first = br#"{"title":"chunked","content":"c"}"#;
    let mut chunks = vec![first.to_vec()];
    chunks.extend((0..17).map(|_| vec![b' '; 64 * 1024]));
    for chunk in chunks {
        // The server may answer 413 and stop reading before the last chunk.
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk,
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let status = tokio::time::timeout(Duration::from_secs(10), read_status(&mut stream)).await;
    assert_eq!(status.ok(), Some(413));
    let total = app.get("/api/v1/posts?count=true", None).await;
    assert_eq!(
        total.body["total"], 1,
        "only the body within the limit made a post"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    let app = spawn(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let request =
        b"GET /api/v1/health HTTP/1.1\r\nHost: relata\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";

    let started = Instant::now();
    let mut cut_off = None;
    for (i, byte) in request.iter().enumerate() {
        // One byte every 200 ms: the whole head would take 16 s.
        if slow.write_all(&[*byte]).await.is_err() {
            cut_off = Some(i);
            break;
        }
        if i == 3 {
            // Others are served while the slow client holds its connection.
            app.get("/api/v1/health", None).await.assert_status(200);
        }
        let mut probe = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), slow.read(&mut probe)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                // The server answered (408) or closed: either way, the connection is over.
                cut_off = Some(i);
                break;
            }
            Err(_) => {}
        }
    }
    let elapsed = started.elapsed();
    assert!(cut_off.is_some(), "the slow client was never cut off");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "cut off at the 1 s header deadline, not after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_holding_every_connection_slot_are_dropped_so_others_get_in() {
    let app = spawn(|s| {
        s.max_http_connections = 2;
        s.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    // Two clients take both slots and send half a request line each, then stall.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(b"GET /api/v1/hea").await.unwrap();
        stalled.push(stream);
    }
    // Let the server accept both before the well-behaved client queues behind them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        app.client.get(app.url("/api/v1/health")).send(),
    )
    .await
    .expect("served once the stalled clients were dropped")
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for a slot, so the cap held"
    );
}

/// Reads a whole answer from `stream` (until the server closes it or `within` passes);
/// its head in lower case and its body.
async fn read_answer(stream: &mut TcpStream, within: Duration) -> (String, String) {
    let mut answer = Vec::new();
    let whole = async {
        let mut chunk = [0u8; 4096];
        loop {
            // A whole answer (its head and `Content-Length` bytes of body) is enough: the
            // server may go on reading what the client sends before it closes.
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| answer.len() >= end + 4 + n) {
                    return;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(within, whole).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

/// A connection that has sent the head of a post on `path` declaring `length` bytes, and
/// the first 9 of them; the body never comes.
async fn post_that_stalls(app: &TestApp, path: &str, auth: &str, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: relata\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"title\":").await.unwrap();
    stream
}

/// The post paths of both faces, with the authorization header each takes.
fn both_faces(token: &str) -> [(&'static str, String); 2] {
    [
        ("/api/v1/posts", format!("Bearer {token}")),
        ("/api/articles", format!("Token {token}")),
    ]
}

db_test!(
    a_declared_body_over_the_limit_is_413_at_once_on_both_faces,
    |app| {
        let (_, token) = app.seed_user("alice").await;
        for (path, auth) in both_faces(&token) {
            let mut stream = post_that_stalls(&app, path, &auth, 10 * 1024 * 1024).await;
            let started = Instant::now();
            let (head, body) = read_answer(&mut stream, Duration::from_secs(10)).await;
            assert!(head.starts_with("http/1.1 413"), "{path}: {head}");
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{path}: answered at once, not when a timeout passed"
            );
            assert!(head.contains("connection: close"), "{path}: {head}");
            if path.starts_with("/api/v1") {
                assert!(body.contains(r#""code":"payload_too_large""#), "{body}");
            } else {
                assert_eq!(body, r#"{"errors":{"body":["is too large"]}}"#);
            }
        }
    }
);

db_test!(
    a_body_that_stalls_is_408_after_the_body_timeout,
    settings = |s| s.body_timeout = Duration::from_secs(1),
    |app| {
        let (_, token) = app.seed_user("alice").await;
        for (path, auth) in both_faces(&token) {
            let mut stream = post_that_stalls(&app, path, &auth, 100).await;
            let started = Instant::now();
            let (head, body) = read_answer(&mut stream, Duration::from_secs(10)).await;
            let waited = started.elapsed();
            assert!(head.starts_with("http/1.1 408"), "{path}: {head}");
            assert!(
                waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
                "{path}: answered at the body timeout, after {waited:?}"
            );
            assert!(head.contains("connection: close"), "{path}: {head}");
            if path.starts_with("/api/v1") {
                assert!(body.contains(r#""code":"body_timeout""#), "{body}");
            } else {
                assert_eq!(body, r#"{"errors":{"body":["stopped arriving"]}}"#);
            }
        }
        let posts = app.get("/api/v1/posts?count=true", None).await;
        assert_eq!(posts.body["total"], 0, "nothing was written");
    }
);

db_test!(
    an_answer_sent_before_the_body_was_read_leaves_the_connection_usable_or_closes_it,
    |app| {
        let (_, token) = app.seed_user("alice").await;
        // Refused before its body is read: the id is not a number (400), the token is
        // missing (401), the content type is not JSON (415).
        let early = [
            format!("PATCH /api/v1/posts/abc HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{{\"title\":\"new\"}}"),
            "POST /api/v1/posts HTTP/1.1\r\nHost: relata\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"title\":\"new\"}".to_string(),
            format!("POST /api/v1/posts HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n{{\"title\":\"new\"}}"),
        ];
        for request in early {
            let mut stream = TcpStream::connect(app.addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The answer's head and body (all of these answer with a Content-Length).
            let (head, _) = loop {
                let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
                    .await
                    .expect("an answer")
                    .unwrap();
                assert!(n > 0, "the connection closed without an answer");
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .to_ascii_lowercase()
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_ascii_lowercase(), body.to_string());
                    }
                }
            };
            assert!(head.starts_with("http/1.1 4"), "{head}");
            if head.contains("connection: close") {
                // Said so: the server closes it, and the client opens another.
                let (rest, _) = read_answer(&mut stream, Duration::from_secs(5)).await;
                assert!(
                    rest.is_empty(),
                    "nothing more on a closed connection: {rest}"
                );
            } else {
                // Not said: the connection must serve the next request.
                assert_eq!(
                    request_on(&mut stream, "/api/v1/health").await,
                    200,
                    "{head}"
                );
            }
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_from_one_address_leave_room_for_another_address() {
    let app = spawn(|_| {}).await;
    // 1 100 connections from 127.0.0.1 that send half a request line and stall: more
    // than the 1 024 connection slots.
    let mut slow = Vec::new();
    for _ in 0..1100 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        let _ = stream.write_all(b"GET /api/v1/hea").await;
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another client, from 127.0.0.2.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let mut took = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(5),
            other.get(app.url("/api/v1/health")).send(),
        )
        .await
        .expect("served while the slow client holds its share")
        .unwrap();
        took.push(started.elapsed());
        assert_eq!(res.status(), 200);
    }
    took.sort();
    assert!(
        took[2] < Duration::from_millis(100),
        "the median health check took {:?} ({took:?})",
        took[2]
    );
    // The slow client kept only its share (256): the rest were closed at once.
    let mut closed = 0;
    for stream in &mut slow {
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 1100 - 256, "{closed} of 1100 closed");
}

db_test!(
    registrations_and_logins_are_limited_per_client_address,
    settings = |s| {
        s.registrations_per_minute = 3;
        s.logins_per_minute = 4;
    },
    |app| {
        let register = |name: String, face: &'static str| {
            let app = &app;
            async move {
                match face {
                    "v1" => {
                        app.post(
                            "/api/v1/auth/register",
                            None,
                            json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"}),
                        )
                        .await
                    }
                    _ => {
                        app.post(
                            "/api/users",
                            None,
                            json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password123"}}),
                        )
                        .await
                    }
                }
            }
        };
        register("user1".into(), "v1").await.assert_status(201);
        register("user2".into(), "conduit").await.assert_status(201);
        register("user3".into(), "v1").await.assert_status(201);
        let refused = register("user4".into(), "v1").await;
        refused.assert_problem(429, "rate_limited");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!(
            (1..=20).contains(&wait),
            "one comes back every 20 s: {wait}"
        );
        let refused = register("user5".into(), "conduit").await;
        refused.assert_status(429);
        assert!(
            refused.body["errors"]["user"].is_array(),
            "{}",
            refused.body
        );
        assert!(refused.header("retry-after").is_some());

        // Logins: the fifth attempt within the minute, right password or not.
        for _ in 0..4 {
            app.post(
                "/api/v1/auth/login",
                None,
                json!({"login": "user1", "password": "password123"}),
            )
            .await
            .assert_status(200);
        }
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "user1", "password": "password123"}),
        )
        .await
        .assert_problem(429, "rate_limited");

        // Another address has its own allowance.
        let other = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        let res = other
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": "user6", "email": "user6@example.com", "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let res = other
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": "user6", "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
);

db_test!(
    a_flood_of_logins_from_one_address_does_not_keep_another_from_logging_in,
    settings = |s| s.max_concurrent_hashes = 1,
    |app| {
        app.register("real").await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Eight workers logging in as names that do not exist, as fast as they can.
        let flood: Vec<_> = (0..8)
            .map(|w| {
                let (client, url, stop) = (app.client.clone(), app.url("/api/v1/auth/login"), stop.clone());
                tokio::spawn(async move {
                    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let res = client
                            .post(&url)
                            .json(&json!({"login": format!("nobody{w}x{i}"), "password": "password123"}))
                            .send()
                            .await
                            .unwrap();
                        *statuses.entry(res.status().as_u16()).or_default() += 1;
                    }
                    statuses
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let other = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        for _ in 0..5 {
            let res = other
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"login": "real", "password": "password123"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "the real user logs in during the flood");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut flood_statuses = std::collections::BTreeMap::<u16, usize>::new();
        for worker in flood {
            for (status, n) in worker.await.unwrap() {
                *flood_statuses.entry(status).or_default() += n;
            }
        }
        assert!(
            flood_statuses.keys().all(|s| [401, 429].contains(s)),
            "the flood got only 401 and 429: {flood_statuses:?}"
        );
    }
);
