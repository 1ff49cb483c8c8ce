//! Running the real `relata` binary in tests: a `relata serve` child on a free port,
//! and plain HTTP/1.1 over a TCP stream, the way an operator's tools would talk to it.
//! Shared by `process.rs`, `durability.rs`, `restart.rs` and others.

#![allow(dead_code)]

pub mod private_pg;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_relata");

/// A `relata serve` child on a free port, with its JSON log lines collected.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub logs: std::sync::mpsc::Receiver<String>,
    /// The start-up log line `relata is listening`.
    pub listening: serde_json::Value,
}

impl Server {
    /// A `relata serve` child on a free port of 127.0.0.1.
    pub fn start(dir: &std::path::Path, envs: &[(&str, &str)]) -> Server {
        Server::start_on(dir, "127.0.0.1:0", envs)
    }

    /// A `relata serve` child bound to `bind`: another server's address, to share it.
    // The child is waited for in `Drop` (and killed first), on every path.
    #[allow(clippy::zombie_processes)]
    pub fn start_on(dir: &std::path::Path, bind: &str, envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", bind])
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("RELATA_BIND")
            .env("RELATA_LOG", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("relata starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let v: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("a JSON log line: {line}"));
                if v["message"] == "relata is listening" {
                    let addr = v["address"].as_str().unwrap().to_string();
                    return Server {
                        child,
                        addr,
                        logs: rx,
                        listening: v,
                    };
                }
                seen.push(line);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("relata did not start listening: {seen:?}");
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(
            &self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: relata\r\nConnection: close\r\n\r\n"),
        )
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "relata did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.logs
            .try_iter()
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }
}

impl Server {
    /// SIGKILL: the process ends at once, with no chance to flush or finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().expect("sending SIGKILL");
        self.child.wait().expect("reaping the killed server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a raw request and reads the whole answer (the server closes the connection).
pub fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// One request on its own connection; `None` when the server cannot be reached or the
/// connection breaks before a whole answer arrives (a killed server, say). Returns the
/// status and the body.
pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    try_exchange(addr, method, path, token, body).map(|(status, _, body)| (status, body))
}

/// An answer's headers, names lower-cased, in their order.
pub type Headers = Vec<(String, String)>;

/// [`try_request`], with the answer's headers too.
pub fn try_exchange(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, Headers, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: relata\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let out = String::from_utf8_lossy(&out);
    let (head, rest) = out.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Headers = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    // A killed server can leave a head without its whole body.
    (rest.len() >= length).then(|| (status, headers, rest[..length].to_string()))
}

/// Registers `name` (password `password123`) on the server at `addr`; panics unless 201.
pub fn register(addr: &str, name: &str) {
    let body = serde_json::json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"});
    let (status, answer) = try_request(
        addr,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(&body.to_string()),
    )
    .expect("the server answers a registration");
    assert_eq!(status, 201, "registering {name}: {answer}");
}

/// Logs `name` in with `password123`; returns (access token, refresh token).
pub fn login(addr: &str, name: &str) -> (String, String) {
    let body = serde_json::json!({"login": name, "password": "password123"});
    let (status, answer) = try_request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&body.to_string()),
    )
    .expect("the server answers a login");
    assert_eq!(status, 200, "logging {name} in: {answer}");
    let pair: serde_json::Value = serde_json::from_str(&answer).unwrap();
    (
        pair["access_token"].as_str().unwrap().to_string(),
        pair["refresh_token"].as_str().unwrap().to_string(),
    )
}
