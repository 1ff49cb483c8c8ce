//! A hostile-input corpus (issue 8) sent through every endpoint and every query parameter:
//! ids that overflow `i64`, negative and zero ids, invalid UTF-8 and NUL bytes (raw in
//! bodies, percent-encoded in paths and queries), strings far over each limit, JSON nested
//! 10 000 levels deep, wrong JSON types, SQL metacharacters, and `include`/`cursor` values
//! made to be expensive or malformed.
//!
//! Each must be answered with a 4xx `application/problem+json` and leave the data as it
//! was: every test compares a snapshot of the tables before and after. Failures are
//! collected, not stopped at, so one run shows every input that slipped through.

use reqwest::Method;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Res, TestApp};

/// Every row of every table a request could change (failed logins aside, which a hostile
/// login legitimately records), in primary-key order.
async fn snapshot(db: &DatabaseConnection) -> String {
    use relata::entity::{
        comment, post, profile, refresh_token, revoked_token, role, setting, user, user_role,
    };
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(db)
            .await
            .unwrap(),
        profile::Entity::find()
            .order_by_asc(profile::Column::Id)
            .all(db)
            .await
            .unwrap(),
        post::Entity::find()
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap(),
        comment::Entity::find()
            .order_by_asc(comment::Column::Id)
            .all(db)
            .await
            .unwrap(),
        role::Entity::find()
            .order_by_asc(role::Column::Id)
            .all(db)
            .await
            .unwrap(),
        user_role::Entity::find()
            .order_by_asc(user_role::Column::UserId)
            .order_by_asc(user_role::Column::RoleId)
            .all(db)
            .await
            .unwrap(),
        refresh_token::Entity::find()
            .order_by_asc(refresh_token::Column::Id)
            .all(db)
            .await
            .unwrap(),
        revoked_token::Entity::find()
            .order_by_asc(revoked_token::Column::Jti)
            .all(db)
            .await
            .unwrap(),
        setting::Entity::find()
            .order_by_asc(setting::Column::Key)
            .all(db)
            .await
            .unwrap(),
    )
}

/// The rows the corpus aims at: an admin (whose token passes every authorization check,
/// so that only the input can be refused), a user with a profile, a post and a comment.
struct World {
    admin: String,
    user: i64,
    post: i64,
    comment: i64,
}

async fn arrange(app: &TestApp) -> World {
    let (_, admin) = app.seed_user_with_role("root", "admin").await;
    let (user, _) = app.seed_user("alice").await;
    let post = app.seed_post(user, "A post").await;
    let comment = app.seed_comment(post, user).await;
    crate::helpers::insert_profile(app.state.store.connection(), user).await;
    World {
        admin,
        user,
        post,
        comment,
    }
}

/// Sends raw bytes (or nothing) with an optional token and content type.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Res {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    Res::read(req.send().await.expect("the server answers")).await
}

/// The refusals that were not what they should be.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    /// Records `what` unless `res` is a 4xx problem+json (of status `expected`, if given).
    fn expect_refusal(&mut self, what: &str, res: &Res, expected: Option<u16>) {
        let status = res.status.as_u16();
        let problem = res.header("content-type") == Some("application/problem+json")
            && res.body["status"] == status
            && res.body["code"].is_string();
        let status_ok = match expected {
            Some(s) => status == s,
            None => (400..500).contains(&status),
        };
        if !(status_ok && problem) {
            let body = res.body.to_string();
            let body: String = body.chars().take(300).collect();
            self.0.push(format!("{what}: {status} {body}"));
        }
    }

    #[track_caller]
    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} hostile inputs were not refused properly:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Path ids that are not integers in 1..2^63−1, percent-encoded where they need it.
fn hostile_ids() -> Vec<String> {
    vec![
        "9223372036854775808".into(),
        "99999999999999999999999999999999".into(),
        "-9223372036854775809".into(),
        "-1".into(),
        "0".into(),
        "00".into(),
        "1.0".into(),
        "1e3".into(),
        "0x10".into(),
        "%201".into(),
        "1%00".into(),
        "%00".into(),
        "%FF%FE".into(),
        "%C3%28".into(),
        "1'%20OR%20'1'%3D'1".into(),
        "1%3B%20DROP%20TABLE%20users%3B--".into(),
        "9".repeat(10_000),
    ]
}

db_test!(
    hostile_ids_in_every_path_are_400_and_change_nothing,
    |app| {
        let w = arrange(&app).await;
        let before = snapshot(app.state.store.connection()).await;
        let mut failures = Failures::default();
        let post_body = json!({"title": "t", "content": "c"});
        // Every route with an id, with a body that would be accepted, so the id alone is wrong.
        let routes: Vec<(Method, &str, Option<Value>)> = vec![
            (Method::GET, "/api/v1/users/{}", None),
            (
                Method::PATCH,
                "/api/v1/users/{}",
                Some(json!({"display_name": "x"})),
            ),
            (Method::DELETE, "/api/v1/users/{}", None),
            (Method::DELETE, "/api/v1/users/{}?dry_run=true", None),
            (Method::GET, "/api/v1/users/{}/posts", None),
            (Method::GET, "/api/v1/users/{}/comments", None),
            (Method::GET, "/api/v1/users/{}/profile", None),
            (
                Method::PUT,
                "/api/v1/users/{}/profile",
                Some(json!({"bio": "b"})),
            ),
            (Method::DELETE, "/api/v1/users/{}/profile", None),
            (Method::GET, "/api/v1/users/{}/roles", None),
            (Method::PUT, "/api/v1/users/{}/roles/moderator", None),
            (Method::DELETE, "/api/v1/users/{}/roles/moderator", None),
            (Method::GET, "/api/v1/profiles/{}", None),
            (Method::GET, "/api/v1/posts/{}", None),
            (Method::PATCH, "/api/v1/posts/{}", Some(post_body.clone())),
            (Method::DELETE, "/api/v1/posts/{}", None),
            (Method::GET, "/api/v1/posts/{}/comments", None),
            (
                Method::POST,
                "/api/v1/posts/{}/comments",
                Some(json!({"body": "b"})),
            ),
            (Method::GET, "/api/v1/comments/{}", None),
            (
                Method::PATCH,
                "/api/v1/comments/{}",
                Some(json!({"body": "b"})),
            ),
            (Method::DELETE, "/api/v1/comments/{}", None),
        ];
        for (method, template, body) in &routes {
            for id in hostile_ids() {
                let path = template.replace("{}", &id);
                let body = body.as_ref().map(|b| serde_json::to_vec(b).unwrap());
                let res = send(&app, method.clone(), &path, Some(&w.admin), body).await;
                let shown: String = path.chars().take(80).collect();
                failures.expect_refusal(&format!("{method} {shown}"), &res, Some(400));
            }
        }
        failures.assert_none();
        assert_eq!(
            snapshot(app.state.store.connection()).await,
            before,
            "the data is untouched"
        );
        // The real rows are still there for the well-formed ids.
        for path in [
            format!("/api/v1/users/{}", w.user),
            format!("/api/v1/posts/{}", w.post),
            format!("/api/v1/comments/{}", w.comment),
        ] {
            app.get(&path, None).await.assert_status(200);
        }
    }
);

db_test!(
    hostile_role_names_in_paths_are_4xx_and_change_nothing,
    |app| {
        let w = arrange(&app).await;
        let before = snapshot(app.state.store.connection()).await;
        let mut failures = Failures::default();
        let names = [
            "%00",
            "admin%00",
            "%FF%FE",
            "%C3%28",
            "admin'%20OR%20'1'%3D'1",
            "admin%22%3B%20DROP%20TABLE%20roles%3B--",
            "%25",
            "_",
            "ADMIN",
            &"r".repeat(10_000),
        ];
        let user = w.user;
        for name in names {
            for (method, path, body) in [
                (Method::GET, format!("/api/v1/roles/{name}"), None),
                (
                    Method::PATCH,
                    format!("/api/v1/roles/{name}"),
                    Some(json!({"description": "d"})),
                ),
                (Method::DELETE, format!("/api/v1/roles/{name}"), None),
                (
                    Method::DELETE,
                    format!("/api/v1/roles/{name}?dry_run=true"),
                    None,
                ),
                (Method::GET, format!("/api/v1/roles/{name}/users"), None),
                (
                    Method::PUT,
                    format!("/api/v1/users/{user}/roles/{name}"),
                    None,
                ),
                (
                    Method::DELETE,
                    format!("/api/v1/users/{user}/roles/{name}"),
                    None,
                ),
            ] {
                let body = body.map(|b: Value| serde_json::to_vec(&b).unwrap());
                let res = send(&app, method.clone(), &path, Some(&w.admin), body).await;
                let shown: String = path.chars().take(80).collect();
                failures.expect_refusal(&format!("{method} {shown}"), &res, None);
            }
        }
        failures.assert_none();
        assert_eq!(
            snapshot(app.state.store.connection()).await,
            before,
            "the data is untouched"
        );
    }
);

/// Cursors no collection ever issued: not base64, not JSON, the wrong shape, values of the
/// wrong type or out of range, SQL in the values, nesting, and 100 KB of noise.
fn hostile_cursors() -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let encode = |v: &str| URL_SAFE_NO_PAD.encode(v.as_bytes());
    vec![
        "!!!not-base64!!!".into(),
        "%00".into(),
        "%FF%FE".into(),
        encode("not json"),
        encode("\u{0}"),
        encode("[]"),
        encode("{}"),
        encode("null"),
        encode("[1,2,3,4,5,6,7,8,9]"),
        encode(r#"["' OR 1=1 --", "' OR 1=1 --", "'; DROP TABLE users; --"]"#),
        encode(r#"["\u0000"]"#),
        encode(r#"["\u0000", 1]"#),
        encode(r#"[{"$ne": null}, 1]"#),
        encode(r#"[1.5, 1]"#),
        encode(r#"[99999999999999999999999, 1]"#),
        encode(r#"["not a time", 1]"#),
        encode(r#"["2026-01-01T00:00:00Z", "1 OR 1=1"]"#),
        encode(r#"["9999-99-99T99:99:99Z", 1]"#),
        encode(&format!("{}{}", "[".repeat(500), "]".repeat(500))),
        // URLs end at 32 KiB (`tests/api/errors.rs`); these are just under.
        "A".repeat(30 * 1024),
        encode(&format!("[\"{}\", 1]", "x".repeat(20_000))),
    ]
}

/// Values of the other list and include parameters that must each be 400.
fn hostile_params() -> Vec<(&'static str, String)> {
    let mut params: Vec<(&'static str, String)> = Vec::new();
    for bad in [
        "0",
        "-1",
        "101",
        "9223372036854775808",
        "1e2",
        "1.5",
        "%00",
        "%FF",
        "1%3B%20DROP%20TABLE%20posts",
        "",
    ] {
        params.push(("limit", bad.into()));
        params.push(("include_limit", bad.into()));
    }
    for bad in ["maybe", "TRUE", "%00", "1%27%20OR%20%271", "2"] {
        params.push(("count", bad.into()));
    }
    for bad in [
        "nope".to_string(),
        "%00".to_string(),
        "%FF%FE".to_string(),
        "author%27%3B%20DROP%20TABLE%20users%3B--".to_string(),
        "posts.comments.author.posts.comments.author.posts".to_string(),
        "posts.".repeat(5_000),
        "posts,".repeat(5_000),
        ",".repeat(30_000) + "nope",
        "a".repeat(30 * 1024),
    ] {
        params.push(("include", bad.clone()));
        params.push(("counts", bad));
    }
    params
}

db_test!(
    hostile_query_parameters_on_every_get_are_400_and_change_nothing,
    |app| {
        let w = arrange(&app).await;
        let before = snapshot(app.state.store.connection()).await;
        let mut failures = Failures::default();
        let (user, post, comment) = (w.user, w.post, w.comment);
        let lists = [
            "/api/v1/users".to_string(),
            "/api/v1/posts".to_string(),
            format!("/api/v1/users/{user}/posts"),
            format!("/api/v1/users/{user}/comments"),
            format!("/api/v1/posts/{post}/comments"),
            "/api/v1/roles".to_string(),
            "/api/v1/roles/admin/users".to_string(),
            format!("/api/v1/users/{user}/roles"),
        ];
        let items = [
            format!("/api/v1/users/{user}"),
            "/api/v1/auth/me".to_string(),
            format!("/api/v1/users/{user}/profile"),
            format!("/api/v1/profiles/{user}"),
            format!("/api/v1/posts/{post}"),
            format!("/api/v1/comments/{comment}"),
            "/api/v1/roles/admin".to_string(),
        ];
        let mut cases: Vec<String> = Vec::new();
        for list in &lists {
            for cursor in hostile_cursors() {
                cases.push(format!("{list}?cursor={cursor}"));
            }
            for (name, value) in hostile_params() {
                cases.push(format!("{list}?{name}={value}"));
            }
        }
        for item in &items {
            for (name, value) in hostile_params() {
                if name == "include" || name == "counts" || name == "include_limit" {
                    cases.push(format!("{item}?{name}={value}"));
                }
            }
        }
        // Filters: ids that are not ids, and `q` with NUL, invalid UTF-8, or far longer
        // than any title or username it could match.
        for list in [
            "/api/v1/posts".to_string(),
            format!("/api/v1/users/{user}/posts"),
        ] {
            for id in hostile_ids() {
                cases.push(format!("{list}?author_id={id}"));
            }
        }
        for list in [
            "/api/v1/users".to_string(),
            "/api/v1/posts".to_string(),
            format!("/api/v1/users/{user}/posts"),
        ] {
            for q in [
                "%00".to_string(),
                "a%00b".to_string(),
                "%FF%FE".to_string(),
                "%C3%28".to_string(),
                "q".repeat(201),
                "q".repeat(30 * 1024),
            ] {
                cases.push(format!("{list}?q={q}"));
            }
        }
        for path in cases {
            let res = send(&app, Method::GET, &path, Some(&w.admin), None).await;
            let shown: String = path.chars().take(100).collect();
            failures.expect_refusal(&format!("GET {shown}"), &res, Some(400));
        }
        // `dry_run` takes only true/false on each delete that offers it; anything else is
        // refused before anything is deleted.
        for path in [
            format!("/api/v1/users/{user}"),
            format!("/api/v1/posts/{post}"),
            "/api/v1/roles/moderator".to_string(),
        ] {
            for bad in ["maybe", "%00", "%FF", "1%27%20OR%20%271", "yes"] {
                let path = format!("{path}?dry_run={bad}");
                let res = send(&app, Method::DELETE, &path, Some(&w.admin), None).await;
                failures.expect_refusal(&format!("DELETE {path}"), &res, Some(400));
            }
        }
        failures.assert_none();
        assert_eq!(
            snapshot(app.state.store.connection()).await,
            before,
            "the data is untouched"
        );
    }
);

/// A JSON endpoint and a body it would accept, whose text fields the corpus attacks.
struct BodyTarget {
    method: Method,
    path: String,
    token: bool,
    valid: Value,
    /// Text fields and the most characters each may hold.
    texts: Vec<(&'static str, usize)>,
}

fn body_targets(w: &World) -> Vec<BodyTarget> {
    let (user, post, comment) = (w.user, w.post, w.comment);
    let target = |method, path: String, token, valid, texts| BodyTarget {
        method,
        path,
        token,
        valid,
        texts,
    };
    vec![
        target(
            Method::POST,
            "/api/v1/auth/register".into(),
            false,
            json!({"username": "mallory", "email": "mallory@example.com", "password": "password123", "display_name": "M"}),
            vec![
                ("username", 32),
                ("email", 254),
                ("password", 128),
                ("display_name", 80),
            ],
        ),
        target(
            Method::POST,
            "/api/v1/auth/login".into(),
            false,
            json!({"login": "alice", "password": "password123"}),
            vec![("login", 254), ("password", 128)],
        ),
        target(
            Method::POST,
            "/api/v1/auth/refresh".into(),
            false,
            json!({"refresh_token": "0".repeat(64)}),
            vec![("refresh_token", 64)],
        ),
        target(
            Method::PATCH,
            format!("/api/v1/users/{user}"),
            true,
            json!({"display_name": "A", "email": "alice2@example.com", "password": "password456", "is_active": true}),
            vec![("display_name", 80), ("email", 254), ("password", 128)],
        ),
        target(
            Method::PUT,
            format!("/api/v1/users/{user}/profile"),
            true,
            json!({"avatar_url": "https://a.example.com/a.png", "website": "https://a.example.com", "bio": "b", "location": "l"}),
            vec![
                ("avatar_url", 500),
                ("website", 200),
                ("bio", 2_000),
                ("location", 100),
            ],
        ),
        target(
            Method::POST,
            "/api/v1/posts".into(),
            true,
            json!({"title": "t", "content": "c"}),
            vec![("title", 200), ("content", 100_000)],
        ),
        target(
            Method::PATCH,
            format!("/api/v1/posts/{post}"),
            true,
            json!({"title": "t", "content": "c"}),
            vec![("title", 200), ("content", 100_000)],
        ),
        target(
            Method::POST,
            format!("/api/v1/posts/{post}/comments"),
            true,
            json!({"body": "b"}),
            vec![("body", 10_000)],
        ),
        target(
            Method::PATCH,
            format!("/api/v1/comments/{comment}"),
            true,
            json!({"body": "b"}),
            vec![("body", 10_000)],
        ),
        target(
            Method::POST,
            "/api/v1/roles".into(),
            true,
            json!({"name": "editor", "description": "d"}),
            vec![("name", 50), ("description", 500)],
        ),
        target(
            Method::PATCH,
            "/api/v1/roles/moderator".into(),
            true,
            json!({"description": "d"}),
            vec![("description", 500)],
        ),
    ]
}

/// Bodies that are wrong as a whole: not UTF-8, nested far past any sane depth, not an
/// object, not JSON at all.
fn hostile_documents() -> Vec<(&'static str, Vec<u8>)> {
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let deep_unclosed = "[".repeat(100_000);
    vec![
        (
            "invalid UTF-8 in a string",
            b"{\"title\":\"\xff\xfe\xfd\"}".to_vec(),
        ),
        ("invalid UTF-8 outside strings", b"\xff\xfe{}".to_vec()),
        ("a lone surrogate escape", br#"{"title":"\ud800"}"#.to_vec()),
        ("a raw NUL byte", b"{\"title\":\"a\x00b\"}".to_vec()),
        ("a NUL before the document", b"\x00{}".to_vec()),
        ("arrays nested 10 000 deep", deep_arrays.into_bytes()),
        ("objects nested 10 000 deep", deep_objects.into_bytes()),
        ("100 000 unclosed arrays", deep_unclosed.into_bytes()),
        ("an array", b"[]".to_vec()),
        ("a string", b"\"x\"".to_vec()),
        ("null", b"null".to_vec()),
        ("a number", b"1e999999".to_vec()),
        ("nothing", Vec::new()),
        ("two documents", b"{}{}".to_vec()),
        ("a SQL statement", b"'; DROP TABLE users; --".to_vec()),
    ]
}

db_test!(
    hostile_bodies_on_every_json_endpoint_are_4xx_and_change_nothing,
    |app| {
        let w = arrange(&app).await;
        let before = snapshot(app.state.store.connection()).await;
        let mut failures = Failures::default();
        for target in body_targets(&w) {
            let token = target.token.then_some(w.admin.as_str());
            let label = format!("{} {}", target.method, target.path);
            let mut bodies: Vec<(String, Vec<u8>)> = hostile_documents()
                .into_iter()
                .map(|(what, bytes)| (what.to_string(), bytes))
                .collect();
            for (field, max) in &target.texts {
                let mut with = |what: &str, value: Value| {
                    let mut body = target.valid.clone();
                    body[*field] = value;
                    bodies.push((
                        format!("{field} {what}"),
                        serde_json::to_vec(&body).unwrap(),
                    ));
                };
                with("holding NUL", json!("a\u{0}b"));
                with("only NUL", json!("\u{0}"));
                with("far over its limit", json!("x".repeat(max * 10 + 1000)));
                with("as a number", json!(42));
                with("as a huge number", json!(1e308));
                with("as a boolean", json!(true));
                with("as an array", json!(["x"]));
                with("as an object", json!({"$gt": ""}));
                with(
                    "as nested arrays",
                    serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100)))
                        .unwrap(),
                );
            }
            // A field the endpoint does not know, holding SQL.
            let mut unknown = target.valid.clone();
            unknown["id"] = json!("1; DROP TABLE users; --");
            bodies.push((
                "an unknown field".into(),
                serde_json::to_vec(&unknown).unwrap(),
            ));
            for (what, bytes) in bodies {
                let res = send(
                    &app,
                    target.method.clone(),
                    &target.path,
                    token,
                    Some(bytes),
                )
                .await;
                failures.expect_refusal(&format!("{label} with {what}"), &res, None);
            }
        }
        failures.assert_none();
        assert_eq!(
            snapshot(app.state.store.connection()).await,
            before,
            "the data is untouched"
        );
    }
);

db_test!(
    sql_metacharacters_are_stored_and_searched_as_plain_text,
    |app| {
        let (_, token) = app.seed_user("alice").await;
        let injections = [
            "'; DROP TABLE posts; --",
            "\" OR \"1\"=\"1",
            "1' OR '1'='1' --",
            "%_%\\' UNION SELECT password_hash FROM users --",
            "Robert'); DELETE FROM users WHERE ('1'='1",
            "$1 $$ :name ? @p0",
        ];
        let mut ids = Vec::new();
        for text in injections {
            let res = app
                .post(
                    "/api/v1/posts",
                    Some(&token),
                    json!({"title": text, "content": text}),
                )
                .await;
            res.assert_status(201);
            assert_eq!(res.body["title"], text);
            let id = res.body["id"].as_i64().unwrap();
            let comment = app
                .post(
                    &format!("/api/v1/posts/{id}/comments"),
                    Some(&token),
                    json!({"body": text}),
                )
                .await;
            comment.assert_status(201);
            assert_eq!(comment.body["body"], text);
            ids.push(id);
        }
        for (text, id) in injections.iter().zip(&ids) {
            let read = app.get(&format!("/api/v1/posts/{id}"), None).await;
            assert_eq!(read.body["title"], *text);
            assert_eq!(read.body["content"], *text);
            // `q` matches the text literally: each finds its own post and no other.
            let q: String = url_encode(text);
            let found = app.get(&format!("/api/v1/posts?q={q}"), None).await;
            found.assert_status(200);
            let found: Vec<i64> = found.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect();
            assert_eq!(found, vec![*id], "q={text}");
        }
        let users = app
            .get("/api/v1/users?q=%27%20OR%20%271%27%3D%271", None)
            .await;
        users.assert_status(200);
        assert_eq!(users.body["items"], json!([]));
        assert_eq!(
            app.get("/api/v1/posts?count=true", None).await.body["total"],
            6
        );
    }
);

/// Percent-encodes every byte that is not unreserved (RFC 3986).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

db_test!(a_url_over_64_kib_is_refused_and_the_server_goes_on, |app| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A 100 KB cursor: more than hyper takes in a URL (64 KiB), so hyper refuses it with a
    // bare 414 before the application sees it (up to 64 KiB the answer is problem+json,
    // `tests/api/errors.rs`).
    let cursor = "A".repeat(100 * 1024);
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /api/v1/posts?cursor={cursor} HTTP/1.1\r\nHost: relata\r\nConnection: close\r\n\r\n"
    );
    // The server may answer and close before reading the whole line.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server answers at once");
    let head = String::from_utf8_lossy(&answer);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(status, 414, "{head}");
    app.get("/api/v1/health", None).await.assert_status(200);
});
