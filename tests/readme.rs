//! The README's walk-through, run against a fresh server, so that it cannot drift from
//! what Relata answers.
//!
//! The walk-through is the part of README.md between `<!-- walkthrough -->` and
//! `<!-- /walkthrough -->`. In it, every fenced ```sh block is run, one command at a time:
//!
//! - `curl …` sends its request (`-X`, `-H`, `-d`; `-s` and `-i` change nothing here) to
//!   the server this test started, and the fenced ```http block right after the ```sh
//!   block is its answer: the status line, the headers it shows (each must be there, with
//!   that value), then the body. The body's JSON must have the keys the README shows, no
//!   more and no fewer, recursively, and the values it shows; a string holding `…` stands
//!   for any string starting with what comes before the `…` and ending with what comes
//!   after it, and a timestamp for any timestamp. An answer without a body must have none.
//! - `NAME=value` sets a variable (a URL on `127.0.0.1:8080` is moved to this server);
//!   `NAME=…   # the FIELD above` takes FIELD (a dotted path, numbers index arrays) from
//!   the JSON of the answer above, as a reader copies it.
//! - `printf '%s\n' 'PASSWORD' | ./target/release/relata ARGS…` runs the binary with that
//!   line on its standard input, on the server's database; a fenced ```text block right
//!   after is its output.
//! - `cargo run …` (starting the server) is skipped: the test has started one.
//!
//! Anything else in a ```sh block of the walk-through fails the test, so that the README
//! cannot show a step that is not run.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod support;

use support::{BIN, Server};

/// The address the README's commands name, replaced by the test server's.
const README_ADDRESS: &str = "127.0.0.1:8080";

/// One fenced block of the walk-through: its info string, its text, and the README line
/// of its first line of text.
#[derive(Debug)]
struct Block {
    info: String,
    text: String,
    line: usize,
}

/// The fenced blocks between the walk-through markers.
fn walkthrough_blocks(readme: &str) -> Vec<Block> {
    let start = readme
        .find("<!-- walkthrough -->")
        .expect("README.md marks its walk-through with <!-- walkthrough -->");
    let end = readme
        .find("<!-- /walkthrough -->")
        .expect("README.md ends its walk-through with <!-- /walkthrough -->");
    assert!(start < end, "the walk-through markers are in order");
    let first_line = readme[..start].lines().count() + 1;
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme[start..end].lines().enumerate() {
        let number = first_line + i;
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    text: String::new(),
                    line: number + 1,
                })
            }
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "a fenced block of the walk-through is not closed"
    );
    blocks
}

/// A shell command split into words (quotes removed, `$VAR`s expanded outside single
/// quotes), the pipeline it makes, and its trailing `# comment`.
struct Shell {
    stages: Vec<Vec<String>>,
    comment: String,
}

fn split_shell(line: &str, vars: &HashMap<String, String>) -> Shell {
    let mut stages = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut comment = String::new();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String| {
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            assert_eq!(chars.next(), Some('}'), "an unclosed ${{ in: {line}");
        }
        let value = vars
            .get(&name)
            .unwrap_or_else(|| panic!("${name} is used before it is set, in: {line}"));
        out.push_str(value);
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '$' => expand(&mut chars, &mut word),
                        '\\' => word.push(chars.next().unwrap_or('\\')),
                        c => word.push(c),
                    }
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word);
            }
            '#' if !in_word => {
                comment = chars.collect::<String>().trim().to_string();
                break;
            }
            '|' if !in_word => stages.push(Vec::new()),
            c if c.is_whitespace() => {
                if in_word {
                    stages.last_mut().unwrap().push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        stages.last_mut().unwrap().push(word);
    }
    Shell { stages, comment }
}

/// The commands of a ```sh block: lines joined where they end with `\`, blank lines and
/// comments left out, each with its README line.
fn commands(block: &Block) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in block.text.lines().enumerate() {
        let number = block.line + i;
        let (start, mut text) = pending.take().unwrap_or((number, String::new()));
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            text.push_str(head);
            text.push(' ');
            pending = Some((start, text));
            continue;
        }
        text.push_str(line);
        let trimmed = text.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            out.push((start, trimmed.to_string()));
        }
    }
    assert!(
        pending.is_none(),
        "a command ends with \\ at the end of its block"
    );
    out
}

/// An HTTP request as a `curl` command describes it.
#[derive(Debug)]
struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn parse_curl(words: &[String]) -> Request {
    let mut method = None;
    let mut url = None;
    let mut headers = Vec::new();
    let mut body = None;
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        let mut value = || {
            words
                .next()
                .unwrap_or_else(|| panic!("{word} without its value"))
                .clone()
        };
        match word.as_str() {
            "-s" | "-i" | "-si" | "-is" => {}
            "-X" => method = Some(value()),
            "-H" => {
                let header = value();
                let (name, v) = header
                    .split_once(':')
                    .unwrap_or_else(|| panic!("a header without a colon: {header}"));
                headers.push((name.trim().to_string(), v.trim().to_string()));
            }
            "-d" | "--data" => body = Some(value()),
            w if w.starts_with('-') => panic!("curl option {w} is not one the test knows"),
            w => {
                assert!(url.is_none(), "two URLs in one curl command");
                url = Some(w.to_string());
            }
        }
    }
    let method = method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.into());
    Request {
        method,
        url: url.expect("a curl command names a URL"),
        headers,
        body,
    }
}

/// An answer: status, headers (names lower-case) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Sends `request` to the server at `addr` on a connection of its own.
fn send(addr: &str, request: &Request) -> Answer {
    let path = request
        .url
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or_else(|| panic!("{} is not on the test server {addr}", request.url));
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        request.method
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = request.body.as_deref().unwrap_or("");
    if request.body.is_some() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).expect("the server accepts a connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the whole answer");
    let raw = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, rest) = raw.split_once("\r\n\r\n").expect("an answer's head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hexadecimal chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// Whether `actual` is what the README's `shown` string stands for.
fn string_matches(shown: &str, actual: &str) -> bool {
    if let Some((before, after)) = shown.split_once('…') {
        return actual.len() >= before.len() + after.len()
            && actual.starts_with(before)
            && actual.ends_with(after);
    }
    if chrono::DateTime::parse_from_rfc3339(shown).is_ok() {
        return chrono::DateTime::parse_from_rfc3339(actual).is_ok();
    }
    shown == actual
}

/// Where `actual` differs from the JSON the README shows, if anywhere.
fn json_mismatch(shown: &Value, actual: &Value, path: &str) -> Option<String> {
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => {
            let mut shown_keys: Vec<_> = s.keys().collect();
            let mut actual_keys: Vec<_> = a.keys().collect();
            shown_keys.sort();
            actual_keys.sort();
            if shown_keys != actual_keys {
                return Some(format!(
                    "{path}: the README shows the keys {shown_keys:?}, the answer has {actual_keys:?}"
                ));
            }
            s.iter()
                .find_map(|(k, v)| json_mismatch(v, &a[k], &format!("{path}.{k}")))
        }
        (Value::Array(s), Value::Array(a)) => {
            if s.len() != a.len() {
                return Some(format!(
                    "{path}: the README shows {} elements, the answer has {}",
                    s.len(),
                    a.len()
                ));
            }
            s.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (s, a))| json_mismatch(s, a, &format!("{path}[{i}]")))
        }
        (Value::String(s), Value::String(a)) if string_matches(s, a) => None,
        (s, a) if s == a => None,
        (s, a) => Some(format!("{path}: the README shows {s}, the answer has {a}")),
    }
}

/// Checks an answer against the ```http block the README shows after its request.
fn check_answer(block: &Block, answer: &Answer, request_line: usize) {
    let context = format!(
        "README.md line {request_line} (answer shown at line {}), answered {} {:?}\n{}",
        block.line, answer.status, answer.headers, answer.body
    );
    let (head, body) = block
        .text
        .split_once("\n\n")
        .unwrap_or((block.text.as_str(), ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP status line at README.md line {}", block.line));
    assert_eq!(answer.status, status, "the status; {context}");
    for line in lines {
        let (name, shown) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("a header line: {line:?} at README.md line {}", block.line));
        let name = name.trim().to_ascii_lowercase();
        let actual = answer
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("the header {name}; {context}"));
        assert!(
            string_matches(shown.trim(), actual),
            "the header {name}: the README shows {:?}; {context}",
            shown.trim()
        );
    }
    let body = body.trim();
    if body.is_empty() {
        assert!(answer.body.is_empty(), "no body; {context}");
        return;
    }
    let shown: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the JSON shown at README.md line {}: {e}", block.line));
    let actual: Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("a JSON answer ({e}); {context}"));
    if let Some(mismatch) = json_mismatch(&shown, &actual, "body") {
        panic!("{mismatch}; {context}");
    }
}

/// `FIELD` (a dotted path) of the JSON answer above, as the README says to copy it.
fn field(answer: &Value, path: &str) -> String {
    let mut value = answer;
    for key in path.split('.') {
        value = match key.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[key],
        };
    }
    match value {
        Value::String(s) => s.clone(),
        Value::Null => panic!("the answer above has no {path}: {answer}"),
        v => v.to_string(),
    }
}

#[test]
fn the_readme_walkthrough_is_what_relata_answers() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let blocks = walkthrough_blocks(&readme);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[(
            "RELATA_JWT_SECRET",
            "a secret of the readme test, 32 bytes or more",
        )],
    );
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut last_json = Value::Null;
    let (mut requests, mut runs) = (0, 0);
    let mut i = 0;
    while i < blocks.len() {
        let block = &blocks[i];
        i += 1;
        if block.info != "sh" {
            panic!(
                "README.md line {}: a ```{} block that follows no command",
                block.line, block.info
            );
        }
        for (line, command) in commands(block) {
            let shell = split_shell(&command, &vars);
            let words = &shell.stages[0];
            let first = words.first().map(String::as_str).unwrap_or("");
            if first == "cargo" {
                continue;
            }
            if let Some((name, value)) = first.split_once('=')
                && words.len() == 1
                && shell.stages.len() == 1
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            {
                let value = match shell.comment.strip_prefix("the ") {
                    Some(rest) => {
                        let path = rest.strip_suffix(" above").unwrap_or_else(|| {
                            panic!("README.md line {line}: `# the FIELD above` expected")
                        });
                        field(&last_json, path)
                    }
                    None => value.replace(README_ADDRESS, &server.addr),
                };
                vars.insert(name.to_string(), value);
                continue;
            }
            if first == "curl" {
                assert_eq!(shell.stages.len(), 1, "README.md line {line}: a piped curl");
                let request = parse_curl(words);
                let answer = send(&server.addr, &request);
                let shown = blocks
                    .get(i)
                    .filter(|b| b.info == "http")
                    .unwrap_or_else(|| {
                        panic!("README.md line {line}: a ```http block with the answer follows")
                    });
                assert_eq!(
                    commands(block).last().map(|(l, _)| *l),
                    Some(line),
                    "README.md line {line}: a curl command is the last of its block"
                );
                i += 1;
                check_answer(shown, &answer, line);
                last_json = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
                requests += 1;
                continue;
            }
            if shell.stages.len() == 2
                && first == "printf"
                && shell.stages[1]
                    .first()
                    .is_some_and(|w| w.ends_with("/relata"))
            {
                let input = words
                    .get(2)
                    .unwrap_or_else(|| panic!("README.md line {line}: printf '%s\\n' TEXT"));
                let mut child = Command::new(BIN)
                    .args(&shell.stages[1][1..])
                    .current_dir(dir.path())
                    .env_remove("DATABASE_URL")
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("relata runs");
                writeln!(child.stdin.take().unwrap(), "{input}").unwrap();
                let out = child.wait_with_output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "README.md line {line}: {command}\n{stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if let Some(shown) = blocks.get(i).filter(|b| b.info == "text") {
                    i += 1;
                    assert!(
                        string_matches(shown.text.trim(), stdout.trim()),
                        "README.md line {}: the output shown; relata printed {stdout:?}",
                        shown.line
                    );
                }
                runs += 1;
                continue;
            }
            panic!("README.md line {line}: the test does not know how to run `{command}`");
        }
    }
    assert!(
        requests >= 10,
        "the walk-through sends {requests} requests: is it all there?"
    );
    assert!(runs >= 1, "the walk-through makes an admin from the shell");
}

#[test]
fn an_answer_that_differs_from_the_readme_is_caught() {
    let shown: Value = serde_json::from_str(
        r#"{"id":1,"token":"eyJ…","at":"2026-12-06T07:30:00.123456Z","tags":["a"]}"#,
    )
    .unwrap();
    let good: Value = serde_json::from_str(
        r#"{"id":1,"token":"eyJhbGci.x.y","at":"2027-01-01T00:00:00Z","tags":["a"]}"#,
    )
    .unwrap();
    assert_eq!(json_mismatch(&shown, &good, "body"), None);
    for bad in [
        r#"{"id":2,"token":"eyJhbGci.x.y","at":"2027-01-01T00:00:00Z","tags":["a"]}"#,
        r#"{"id":1,"token":"xyz","at":"2027-01-01T00:00:00Z","tags":["a"]}"#,
        r#"{"id":1,"token":"eyJhbGci.x.y","at":"yesterday","tags":["a"]}"#,
        r#"{"id":1,"token":"eyJhbGci.x.y","at":"2027-01-01T00:00:00Z","tags":["a","b"]}"#,
        r#"{"id":1,"token":"eyJhbGci.x.y","at":"2027-01-01T00:00:00Z","tags":["a"],"more":0}"#,
        r#"{"id":1,"token":"eyJhbGci.x.y","tags":["a"]}"#,
    ] {
        let bad: Value = serde_json::from_str(bad).unwrap();
        assert!(json_mismatch(&shown, &bad, "body").is_some(), "{bad}");
    }
    let vars = HashMap::from([("API".to_string(), "http://h/api/v1".to_string())]);
    let curl = split_shell(
        r#"curl -si -X PUT "$API/users/1?include=a,b" -H 'content-type: application/json' -d '{"a":"$B"}'  # note"#,
        &vars,
    );
    let request = parse_curl(&curl.stages[0]);
    assert_eq!(request.method, "PUT");
    assert_eq!(request.url, "http://h/api/v1/users/1?include=a,b");
    assert_eq!(
        request.headers,
        [("content-type".into(), "application/json".into())]
    );
    assert_eq!(request.body.as_deref(), Some(r#"{"a":"$B"}"#));
    assert_eq!(curl.comment, "note");
}
