//! The OpenAPI document and the router describe the same endpoints.
//!
//! axum's `Router` cannot list its routes, so the routes are read from the source that
//! declares them: `build_router` in `src/lib.rs` (root routes, and the `/api/v1` nest of
//! `v1::router`), `v1::router` in `src/http/v1/mod.rs` (the resource modules it merges), and
//! each module's `router()`, where every path is one `.route("path", method_router)`.
//! A second test asks the running server about every documented operation, so a route
//! that the parser misreads cannot hide behind the comparison.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::db_test;

/// Routes served on purpose without being API operations: the docs page's own files, and
/// the Prometheus endpoint.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/docs/"),
    ("GET", "/docs/{*file}"),
    ("GET", "/metrics"),
];

type Routes = BTreeSet<(String, String)>;

fn source(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

/// The text of the body of `fn <name>` in `source`, braces excluded.
fn fn_body<'s>(source: &'s str, name: &str) -> &'s str {
    let start = source
        .find(&format!("fn {name}("))
        .unwrap_or_else(|| panic!("no `fn {name}(`"));
    let open = start + source[start..].find('{').expect("a body");
    let close = open + matching(&source[open..], '{', '}');
    &source[open + 1..close]
}

/// The offset in `text` (which starts with `open`) of the delimiter closing it.
fn matching(text: &str, open: char, close: char) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced `{open}` in {text}")
}

/// The arguments of every `<call>(…)` in `body`, e.g. every `.route(…)`.
fn calls<'s>(body: &'s str, call: &str) -> Vec<&'s str> {
    body.match_indices(call)
        .map(|(at, _)| {
            let open = at + call.len() - 1;
            let close = open + matching(&body[open..], '(', ')');
            &body[open + 1..close]
        })
        .collect()
}

/// The functions called at the top level of a method router: `get(a).patch(b)` → get, patch.
fn methods(method_router: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut ident = String::new();
    for c in method_router.chars() {
        match c {
            '(' => {
                if depth == 0 && !ident.is_empty() {
                    found.push(std::mem::take(&mut ident));
                }
                depth += 1;
            }
            ')' => depth -= 1,
            c if depth == 0 && (c.is_alphanumeric() || c == '_') => ident.push(c),
            _ => ident.clear(),
        }
    }
    found
}

/// The `(METHOD, path)` of every `.route("path", method_router)` in `body`, under `prefix`.
fn routes_in(body: &str, prefix: &str, routes: &mut Routes) {
    for args in calls(body, ".route(") {
        let args = args.trim_start();
        assert!(
            args.starts_with('"'),
            "a route whose path is not a literal: .route({args})"
        );
        let end = 1 + args[1..].find('"').expect("a closed string");
        let path = &args[1..end];
        let method_router = args[end + 1..].trim_start().trim_start_matches(',');
        let methods = methods(method_router);
        assert!(!methods.is_empty(), "no method in .route({args})");
        for method in methods {
            assert!(
                ["get", "post", "put", "patch", "delete"].contains(&method.as_str()),
                "`{method}` in .route({args}): declare routes as get(..).post(..) chains"
            );
            routes.insert((method.to_uppercase(), format!("{prefix}{path}")));
        }
    }
}

/// The modules whose `router()` is merged in `body`: `.merge(api::docs::router())` → docs.
fn merged_modules(body: &str) -> Vec<String> {
    calls(body, ".merge(")
        .into_iter()
        .map(|args| {
            let path = args
                .trim()
                .strip_suffix("::router()")
                .unwrap_or_else(|| panic!("a merge of something else than a router(): {args}"));
            path.rsplit("::").next().unwrap_or(path).to_string()
        })
        .collect()
}

fn module_routes(module: &str, prefix: &str, routes: &mut Routes) {
    let source = source(&format!("src/http/v1/{module}.rs"));
    routes_in(fn_body(&source, "router"), prefix, routes);
}

/// Every route the application serves, read from its source.
fn routes_in_source() -> Routes {
    let mut routes = Routes::new();
    let lib = source("src/lib.rs");
    let root = fn_body(&lib, "build_router");
    let nest = calls(root, ".nest(")
        .into_iter()
        .find(|args| args.contains("v1::router("))
        .expect("build_router nests v1::router");
    let prefix = nest.trim().trim_start_matches('"');
    let prefix = &prefix[..prefix.find('"').expect("a literal prefix")];
    routes_in(root, "", &mut routes);
    for module in merged_modules(root) {
        module_routes(&module, "", &mut routes);
    }
    let api = source("src/http/v1/mod.rs");
    let api_router = fn_body(&api, "router");
    routes_in(api_router, prefix, &mut routes);
    let modules = merged_modules(api_router);
    assert!(modules.len() >= 8, "v1::router merges {modules:?}");
    for module in modules {
        module_routes(&module, prefix, &mut routes);
    }
    // The Conduit face, nested beside `/api/v1` (src/http/conduit/).
    let conduit = calls(root, ".nest(")
        .into_iter()
        .find(|args| args.contains("conduit::router("))
        .expect("build_router nests conduit::router");
    let prefix = conduit.trim().trim_start_matches('"');
    let prefix = &prefix[..prefix.find('"').expect("a literal prefix")];
    let face = source("src/http/conduit/mod.rs");
    let face_router = fn_body(&face, "router");
    for module in merged_modules(face_router) {
        let source = source(&format!("src/http/conduit/{module}.rs"));
        routes_in(fn_body(&source, "router"), prefix, &mut routes);
    }
    routes
}

/// Every operation of the OpenAPI document.
fn operations_in_document() -> Routes {
    let document = serde_json::to_value(relata::http::v1::openapi::document()).unwrap();
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn every_route_is_documented_and_every_operation_is_routed() {
    let mut served = routes_in_source();
    for (method, path) in UNDOCUMENTED {
        assert!(
            served.remove(&(method.to_string(), path.to_string())),
            "{method} {path} is listed as undocumented but no longer served"
        );
    }
    let documented = operations_in_document();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}\n\
         documented operations that no route serves: {unrouted:?}"
    );
}

#[test]
fn the_route_parser_reads_method_chains_and_skips_nested_calls() {
    let mut routes = Routes::new();
    routes_in(
        r#"Router::new()
            .route("/a/{id}", get(get_a).patch(update_a).delete(delete_a))
            .route_layer(layer(x))
            .route("/b", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))"#,
        "/api/v1",
        &mut routes,
    );
    let expected: Routes = [
        ("GET", "/api/v1/a/{id}"),
        ("PATCH", "/api/v1/a/{id}"),
        ("DELETE", "/api/v1/a/{id}"),
        ("GET", "/api/v1/b"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}

db_test!(every_documented_operation_reaches_a_handler, |app| {
    // What the router answers when nothing matches, so that the probe below means something.
    let unknown = app.get("/api/v1/no-such-route", None).await;
    unknown.assert_status(404);
    assert_eq!(unknown.body["detail"], "Route not found.");
    let wrong_method = app
        .request(Method::PATCH, "/api/v1/health", None, None)
        .await;
    wrong_method.assert_status(405);

    for (method, path) in operations_in_document() {
        let concrete = path
            .replace("{id}", "1")
            .replace("{name}", "admin")
            .replace("{slug}", "no-such-slug")
            .replace("{username}", "nobody");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = app.request(method.clone(), &concrete, None, None).await;
        // The Conduit face's own 404s carry `errors`; the router's carry `detail`.
        let face_answered = concrete.starts_with("/api/v1/")
            || (concrete.starts_with("/api/") && res.body["errors"].is_object());
        let unrouted = res.status == 405
            || (res.status == 404 && (!face_answered || res.body["detail"] == "Route not found."));
        assert!(
            !unrouted,
            "{method} {concrete} is documented but the router answers {}: {}",
            res.status, res.body
        );
    }
});

#[tokio::test]
async fn every_operation_id_is_unique_across_both_faces() {
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let document = app.get("/api/v1/openapi.json", None).await.body;
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let at = format!("{method} {path}");
            if let Some(first) = seen.insert(id.to_string(), at.clone()) {
                panic!("operationId {id} is used by {first} and {at}");
            }
        }
    }
    assert!(seen.len() > 50, "{} operations", seen.len());
}
