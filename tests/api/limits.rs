//! The limits that keep one client from holding the server (issue 8): the request timeout,
//! the cap on concurrent connections, the 1 MiB body limit at its exact boundary and
//! without a `Content-Length`, and the header-read deadline for clients that trickle
//! bytes.
//!
//! These limits live in the HTTP layer, below any database, so each test runs once, on
//! SQLite, with raw TCP where a well-behaved client library would hide the behaviour.

use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
async fn a_body_uploaded_slower_than_the_request_timeout_is_answered_503_timeout() {
    let app = spawn(|s| s.request_timeout = Duration::from_secs(1)).await;
    let (_, token) = app.seed_user("alice").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let body = r#"{"title":"slow","content":"upload"}"#;
    let head = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: relata\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..5]).await.unwrap();

    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);

    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
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
