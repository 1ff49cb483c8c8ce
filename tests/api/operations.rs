//! What operators and API readers rely on: request ids, metrics, CORS, the OpenAPI
//! document and the offline documentation page, rendered in a real browser.

use crate::db_test;
use crate::helpers::{Backend, TestApp};

/// The Prometheus text `/metrics` answers.
async fn metrics_text(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    res.text().await.unwrap()
}

db_test!(a_request_id_is_echoed_or_generated, |app| {
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    let res = app.get("/api/v1/health", None).await;
    let generated = res.header("x-request-id").expect("a generated request id");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
});

db_test!(
    metrics_count_requests_by_route_and_status_with_statement_histograms,
    |app| {
        app.get("/api/v1/health", None).await.assert_status(200);
        app.get("/api/v1/health", None).await.assert_status(200);
        app.get("/api/v1/does-not-exist/123", None)
            .await
            .assert_status(404);
        let text = metrics_text(&app).await;
        assert!(
            text.contains(
                r#"relata_http_requests_total{method="GET",route="/api/v1/health",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"relata_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"relata_db_statements_per_request_bucket{method="GET",route="/api/v1/health",le="1"} 2"#), "{text}");
        assert!(
            text.contains("relata_http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("relata_db_pool_connections "), "{text}");
    }
);

db_test!(paths_outside_every_route_share_one_metrics_label, |app| {
    for path in ["/no-such-page-1", "/no-such-page-2"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let text = metrics_text(&app).await;
    assert!(
        text.contains(
            r#"relata_http_requests_total{method="GET",route="unmatched",status="404"} 2"#
        ),
        "{text}"
    );
    assert!(!text.contains("no-such-page"), "{text}");
});

db_test!(cors_is_off_by_default, |app| {
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
});

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.cors_origins = vec!["https://app.example".into()]
    })
    .await
    .unwrap();
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/posts"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = app
        .client
        .get(app.url("/api/v1/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

db_test!(the_openapi_document_is_3_1_with_a_bearer_scheme, |app| {
    let res = app.get("/api/v1/openapi.json", None).await;
    res.assert_status(200);
    assert!(
        res.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        res.body["openapi"]
    );
    assert_eq!(
        res.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(res.body["paths"]["/api/v1/health"]["get"].is_object());
});

db_test!(
    the_docs_page_and_its_assets_are_served_by_the_binary,
    |app| {
        // `/docs` sends the browser to `/docs/`, whose files are addressed relative to it.
        let res = app.get("/docs", None).await;
        assert_eq!(res.status, 200);
        for (path, kind) in [
            ("/docs/", "text/html"),
            ("/docs/swagger-ui.css", "text/css"),
            ("/docs/swagger-ui-bundle.js", "text/javascript"),
            ("/docs/swagger-initializer.js", "text/javascript"),
        ] {
            let res = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
            let text = res.text().await.unwrap();
            if path.ends_with(".js") && path != "/docs/swagger-initializer.js" {
                continue;
            }
            // Nothing is fetched from another host: the page must work offline.
            for needle in ["src=\"http", "href=\"http", "url(http", "//cdn"] {
                assert!(
                    !text.contains(needle),
                    "{path} references an external asset ({needle})"
                );
            }
        }
        // The page renders our own document.
        let initializer = app
            .client
            .get(app.url("/docs/swagger-initializer.js"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            initializer.contains("/api/v1/openapi.json"),
            "{initializer}"
        );
        app.get("/docs/no-such-file.js", None)
            .await
            .assert_problem(404, "not_found");
    }
);

/// A headless Chromium driven over the DevTools protocol.
struct Browser {
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
    page: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    /// The URL of every request the page made, from DevTools' `Network.requestWillBeSent`
    /// events (once `Network.enable` was called), in order.
    requests: Vec<String>,
}

impl Browser {
    /// Starts Chromium with every host but 127.0.0.1 unresolvable, so that a page needing
    /// the network fails, and connects to its first tab.
    async fn start(chromium: &str) -> Browser {
        use tokio::io::AsyncBufReadExt;
        let profile = tempfile::tempdir().unwrap();
        let mut process = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Chromium starts");
        let mut lines = tokio::io::BufReader::new(process.stderr.take().unwrap()).lines();
        let port = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                    return rest.split('/').next().unwrap().to_string();
                }
            }
            panic!("Chromium exited without a DevTools address");
        })
        .await
        .expect("Chromium announces its DevTools address");
        // Keep draining Chromium's log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let targets: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page_url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (page, _) = tokio_tungstenite::connect_async(page_url).await.unwrap();
        Browser {
            _process: process,
            _profile: profile,
            page,
            next_id: 0,
            requests: Vec::new(),
        }
    }

    /// Sends one DevTools command and returns its result.
    async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        self.next_id += 1;
        let id = self.next_id;
        let command = serde_json::json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::Text(command.to_string().into()))
            .await
            .unwrap();
        while let Some(message) = self.page.next().await {
            let Message::Text(text) = message.unwrap() else {
                continue;
            };
            let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
            if reply["method"] == "Network.requestWillBeSent"
                && let Some(url) = reply["params"]["request"]["url"].as_str()
            {
                self.requests.push(url.to_string());
            }
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
        panic!("Chromium closed the DevTools connection");
    }

    /// Evaluates `script` (an expression, awaited when it is a promise) in the page and
    /// returns its value.
    async fn eval(&mut self, script: &str) -> serde_json::Value {
        let result = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            result["exceptionDetails"].is_null(),
            "the page's script failed: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }
}

/// In the page: waits for Swagger UI to render, lists the operations it shows, authorizes
/// with the token like a user pasting it into "Authorize", opens `GET /api/v1/auth/me`,
/// presses "Execute" and reads the live response.
const DRIVE_THE_DOCS_PAGE: &str = r#"(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const until = async (what, probe) => {
    for (let i = 0; i < 400; i++) { const v = probe(); if (v) return v; await sleep(50); }
    throw new Error('timed out waiting for ' + what);
  };
  await until('operations', () => document.querySelectorAll('.opblock').length > 0);
  const rendered = [...document.querySelectorAll('.opblock')].map(block =>
    block.querySelector('.opblock-summary-method').textContent + ' ' +
    block.querySelector('.opblock-summary-path').getAttribute('data-path'));
  window.ui.preauthorizeApiKey('bearer', TOKEN);
  const me = [...document.querySelectorAll('.opblock-get')].find(block =>
    block.querySelector('.opblock-summary-path').getAttribute('data-path') === '/api/v1/auth/me');
  me.querySelector('.opblock-summary-control').click();
  const execute = await until('the Execute button', () => me.querySelector('button.execute'));
  execute.click();
  const response = await until('a live response',
    () => me.querySelector('.live-responses-table tbody tr.response'));
  return {
    rendered,
    status: response.querySelector('.response-col_status').textContent.trim(),
    body: response.querySelector('.response-col_description').textContent,
  };
})()"#;

/// Opens `/docs` in headless Chromium, with no network but the server's: the page renders
/// every operation of the document, and a user who authorizes with a token can call one.
/// Skipped (with a note) when Chromium is not installed, unless `RELATA_REQUIRE_BROWSER=1`,
/// which `.ci/run` sets after installing it.
#[tokio::test]
async fn the_docs_page_renders_every_operation_and_calls_one_with_a_token_in_a_real_browser() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(chromium) = chromium else {
        assert!(
            std::env::var("RELATA_REQUIRE_BROWSER").is_err(),
            "RELATA_REQUIRE_BROWSER is set but Chromium is missing"
        );
        eprintln!("skipped: Chromium is not installed");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (_, token) = app.user("docreader").await;
    let mut browser = Browser::start(chromium).await;
    browser.call("Network.enable", serde_json::json!({})).await;
    browser
        .call(
            "Page.navigate",
            serde_json::json!({"url": app.url("/docs")}),
        )
        .await;
    let script = DRIVE_THE_DOCS_PAGE.replace("TOKEN", &serde_json::to_string(&token).unwrap());
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        // The navigation may still be replacing about:blank when the first script runs.
        loop {
            let ready = browser.eval("document.location.pathname").await;
            if ready == "/docs/" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        browser.eval(&script).await
    })
    .await
    .expect("the page renders and answers within a minute");
    // Let late requests (a validator badge, fonts) show, then read the events.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    browser.eval("1").await;
    let origin = app.url("");
    let elsewhere: Vec<&String> = browser
        .requests
        .iter()
        .filter(|url| !url.starts_with(&origin) && !url.starts_with("data:"))
        .collect();
    assert!(
        !browser.requests.is_empty() && elsewhere.is_empty(),
        "the page fetches nothing from another host: {elsewhere:?} of {:?}",
        browser.requests
    );

    let document = app.get("/api/v1/openapi.json", None).await.body;
    let mut expected: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                expected.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let mut rendered: Vec<String> = outcome["rendered"]
        .as_array()
        .expect("the rendered operations")
        .iter()
        .map(|op| op.as_str().unwrap().to_string())
        .collect();
    expected.sort();
    rendered.sort();
    assert_eq!(rendered, expected, "the page renders every operation once");
    assert_eq!(outcome["status"], "200", "{outcome}");
    assert!(
        outcome["body"]
            .as_str()
            .unwrap()
            .contains("docreader@example.com"),
        "the call was made with the token: {outcome}"
    );
}

db_test!(
    liveness_readiness_and_version_tell_an_orchestrator_what_it_needs,
    |app| {
        let live = app.get("/api/v1/health/live", None).await;
        live.assert_status(200);
        assert_eq!(live.body, serde_json::json!({"status": "alive"}));
        let ready = app.get("/api/v1/health/ready", None).await;
        ready.assert_status(200);
        assert_eq!(
            ready.body,
            serde_json::json!({"status": "ready", "database": "ok", "migrations": "current"})
        );
        let version = app.get("/api/v1/version", None).await;
        version.assert_status(200);
        assert_eq!(version.body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(version.body["api_version"], "1.2");
        let revision = version.body["git_revision"].as_str().unwrap();
        assert!(!revision.is_empty(), "{}", version.body);

        // A migration this build knows but the database lacks: not ready.
        let db = app.raw_db().await;
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("DELETE FROM seaql_migrations WHERE version = 'm0003_sessions'")
            .await
            .unwrap();
        let pending = app.get("/api/v1/health/ready", None).await;
        pending.assert_problem(503, "not_ready");
        assert!(
            pending.body["detail"]
                .as_str()
                .unwrap()
                .contains("relata migrate"),
            "{}",
            pending.body
        );
        app.get("/api/v1/health/live", None)
            .await
            .assert_status(200);

        // Draining (a SIGTERM): not ready, still alive.
        app.state.start_draining();
        app.get("/api/v1/health/ready", None)
            .await
            .assert_problem(503, "not_ready");
        app.get("/api/v1/health/live", None)
            .await
            .assert_status(200);
    }
);

db_test!(metrics_name_the_build_and_the_process_resources, |app| {
    let text = metrics_text(&app).await;
    let build = text
        .lines()
        .find(|l| l.starts_with("relata_build_info{"))
        .unwrap_or_else(|| panic!("relata_build_info in {text}"));
    assert!(build.ends_with(" 1"), "{build}");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    for metric in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(metric)),
            "{metric} in {text}"
        );
    }
});

db_test!(
    large_answers_are_compressed_for_clients_that_ask_and_small_ones_are_not,
    |app| {
        for i in 0..30 {
            app.seed_user(&format!("reader{i}")).await;
        }
        let plain = app.get("/api/v1/users?limit=30", None).await;
        let plain = serde_json::to_vec(&plain.body).unwrap();
        for (encoding, expected) in [
            ("gzip", Some("gzip")),
            ("br", Some("br")),
            ("identity", None),
        ] {
            let res = app
                .client
                .get(app.url("/api/v1/users?limit=30"))
                .header("accept-encoding", encoding)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(
                res.headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap()),
                expected,
                "{encoding}"
            );
            assert!(res.headers().get("x-query-count").is_some());
            let bytes = res.bytes().await.unwrap();
            if encoding == "gzip" {
                assert!(
                    bytes.len() < plain.len() / 2,
                    "{} of {}",
                    bytes.len(),
                    plain.len()
                );
                let mut decoded = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&bytes[..]),
                    &mut decoded,
                )
                .unwrap();
                let decoded: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
                assert_eq!(serde_json::to_vec(&decoded).unwrap(), plain);
            }
        }
        let small = app
            .client
            .get(app.url("/api/v1/health"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert!(
            small.headers().get("content-encoding").is_none(),
            "not worth it"
        );
    }
);
