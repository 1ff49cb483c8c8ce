//! One error format everywhere (issue 14): unmatched paths and methods, overlong URLs and
//! oversized headers are all problem+json, and the bare address leads to the docs.

use reqwest::Method;

use crate::db_test;
use crate::helpers::{Res, TestApp};

/// Sends a GET with `extra` headers added.
async fn get_with_headers(app: &TestApp, path: &str, extra: &[(String, String)]) -> Res {
    let mut req = app.client.get(app.url(path));
    for (name, value) in extra {
        req = req.header(name, value);
    }
    Res::read(req.send().await.expect("the server answers")).await
}

db_test!(every_unmatched_path_is_a_problem_404, |app| {
    for path in [
        "/api/v1/",
        "/api/v1",
        "/api/v1/nope",
        "/api/v1/users/1/nope",
        "/api/v1/posts/1/comments/1/nope",
        "/api/v2/users",
        "/nope",
        "/docs/nope",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, 404, "GET {path}: {:?}", res.body);
        res.assert_problem(404, "not_found");
    }
    app.request(Method::POST, "/api/v1/nope", None, None)
        .await
        .assert_problem(404, "not_found");
});

db_test!(a_wrong_method_is_a_problem_405_with_allow, |app| {
    for (method, path, allowed) in [
        (Method::DELETE, "/api/v1/health", "GET"),
        (Method::PUT, "/api/v1/posts", "POST"),
        (Method::POST, "/api/v1/users/1", "PATCH"),
        (Method::PATCH, "/api/v1/auth/login", "POST"),
    ] {
        let res = app.request(method.clone(), path, None, None).await;
        res.assert_problem(405, "method_not_allowed");
        let allow = res
            .header("allow")
            .unwrap_or_else(|| panic!("Allow on {method} {path}"));
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{method} {path}: Allow {allow:?} names {allowed}"
        );
        assert!(
            !allow.split(',').any(|m| m.trim() == method.as_str()),
            "{method} {path}: Allow {allow:?}"
        );
    }
});

db_test!(the_bare_address_redirects_to_the_docs, |app| {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/")).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/docs");
    // Followed, it is the page.
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
});

db_test!(an_overlong_url_is_a_problem_414, |app| {
    let limit = relata::http::v1::head_limits::MAX_URL_BYTES;
    let path = |len: usize| {
        let base = "/api/v1/posts?q=";
        format!("{base}{}", "q".repeat(len - base.len()))
    };
    // At the limit the application answers (a `q` that long is a 400 of its own) …
    app.get(&path(limit), None)
        .await
        .assert_problem(400, "invalid_query");
    // … one byte more is 414, before any route runs.
    let res = app.get(&path(limit + 1), None).await;
    res.assert_problem(414, "uri_too_long");
    assert_eq!(res.header("x-query-count"), None, "no statement ran");
    app.get(&path(60 * 1024), None)
        .await
        .assert_problem(414, "uri_too_long");
});

db_test!(too_many_or_too_large_headers_are_a_problem_431, |app| {
    let many = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("x-extra-{i}"), "1".into()))
            .collect()
    };
    // The client adds a few of its own (host, accept…), so 90 extra fit under 100.
    get_with_headers(&app, "/api/v1/health", &many(90))
        .await
        .assert_status(200);
    for n in [101, 300] {
        get_with_headers(&app, "/api/v1/health", &many(n))
            .await
            .assert_problem(431, "headers_too_large");
    }
    let big = vec![("x-big".to_string(), "b".repeat(40 * 1024))];
    get_with_headers(&app, "/api/v1/health", &big)
        .await
        .assert_problem(431, "headers_too_large");
    app.get("/api/v1/health", None).await.assert_status(200);
});
