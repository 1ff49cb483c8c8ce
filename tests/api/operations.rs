//! What operators and API readers rely on: request ids, metrics, CORS, the OpenAPI
//! document and the offline documentation page, rendered in a real browser.

use crate::db_test;
use crate::helpers::{Backend, TestApp};

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
        let text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
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
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
        for (path, kind) in [
            ("/docs", "text/html"),
            ("/docs/docs.js", "text/javascript"),
            ("/docs/docs.css", "text/css"),
        ] {
            let res = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(kind),
                "{path}"
            );
            let text = res.text().await.unwrap();
            // Nothing is fetched from another host: the page must work offline.
            for needle in ["src=\"http", "href=\"http", "url(http", "//cdn", "import("] {
                assert!(
                    !text.contains(needle),
                    "{path} references an external asset ({needle})"
                );
            }
        }
    }
);

/// Loads `/docs` in headless Chromium and reads the rendered DOM. Skipped (with a note)
/// when Chromium is not installed, unless `RELATA_REQUIRE_BROWSER=1`, which `.ci/run` sets
/// after installing it.
#[tokio::test]
async fn the_docs_page_renders_every_operation_in_a_real_browser() {
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
    let profile = tempfile::tempdir().unwrap();
    let url = app.url("/docs");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            profile_arg.as_str(),
            "--virtual-time-budget=10000",
            "--dump-dom",
            url.as_str(),
        ])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output)
        .await
        .expect("Chromium finishes within a minute")
        .expect("Chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let document = app.get("/api/v1/openapi.json", None).await.body;
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .count()
        })
        .sum();
    assert!(
        dom.contains(&format!("data-rendered=\"{operations}\"")),
        "the page did not render {operations} operations:\n{dom}"
    );
    for path in document["paths"].as_object().unwrap().keys() {
        assert!(
            dom.contains(path.as_str()),
            "the rendered page does not list {path}"
        );
    }
}
