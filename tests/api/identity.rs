//! Nothing visible changes with the executor (issue 11): the same requests answer the
//! same bytes and the same `X-Query-Count` through the direct SQLite reader and through
//! SeaORM on the same database, and the same bodies on SQLite and PostgreSQL for the same
//! seed. No golden files: both sides run now, from this build.

use relata::relations::{Resource, countable};
use reqwest::StatusCode;

use crate::budget::{Hub, arrange, include_values};
use crate::db_test;
use crate::helpers::{Backend, TestApp};

/// Status, `X-Query-Count` and body bytes of a GET.
async fn fetch(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = client.get(format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status();
    let count = res
        .headers()
        .get("x-query-count")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (
        status,
        count,
        res.bytes().await.unwrap_or_default().to_vec(),
    )
}

/// The benchmark's scenarios and every include path and counts relation of every GET,
/// with a second page through each list's cursor.
fn paths(hub: &Hub) -> Vec<(String, bool)> {
    let mut paths: Vec<(String, bool)> = vec![
        (
            "/api/v1/users?limit=50&include=profile,roles&counts=posts".into(),
            true,
        ),
        (
            "/api/v1/posts?limit=20&include=author,comments.author".into(),
            false,
        ),
        (format!("/api/v1/users/{}/posts?limit=20", hub.user), false),
        (
            format!(
                "/api/v1/posts/{}?include=author.profile,comments.author",
                hub.post
            ),
            false,
        ),
    ];
    let lists = [
        ("/api/v1/users".to_string(), Resource::User, true),
        ("/api/v1/posts".to_string(), Resource::Post, false),
        (
            format!("/api/v1/users/{}/posts", hub.user),
            Resource::Post,
            false,
        ),
        (
            format!("/api/v1/users/{}/comments", hub.user),
            Resource::Comment,
            false,
        ),
        (
            format!("/api/v1/posts/{}/comments", hub.post),
            Resource::Comment,
            false,
        ),
        ("/api/v1/roles".to_string(), Resource::Role, true),
    ];
    for (list, resource, token) in &lists {
        let counts = countable(*resource).join(",");
        for include in include_values(*resource) {
            paths.push((
                format!(
                    "{list}?limit=7&include_limit=3&include={include}&counts={counts}&count=true"
                ),
                *token,
            ));
        }
    }
    let ones = [
        (format!("/api/v1/users/{}", hub.user), Resource::User, true),
        ("/api/v1/auth/me".to_string(), Resource::User, true),
        (format!("/api/v1/posts/{}", hub.post), Resource::Post, false),
        (
            format!("/api/v1/comments/{}", hub.comment),
            Resource::Comment,
            false,
        ),
        (
            format!("/api/v1/profiles/{}", hub.profile),
            Resource::Profile,
            false,
        ),
        (format!("/api/v1/roles/{}", hub.role), Resource::Role, true),
    ];
    for (one, resource, token) in &ones {
        let counts = countable(*resource).join(",");
        for include in include_values(*resource) {
            paths.push((
                format!("{one}?include_limit=2&include={include}&counts={counts}"),
                *token,
            ));
        }
    }
    paths.push((
        format!("/api/v1/users/{}/roles?limit=5&count=true", hub.user),
        true,
    ));
    paths.push((format!("/api/v1/roles/{}/users?limit=5", hub.role), true));
    paths.push((format!("/api/v1/users/{}/profile", hub.user + 1), false));
    paths.push(("/api/v1/posts/999999999".into(), false));
    paths.push(("/api/v1/users/999999999/posts".into(), false));
    paths
}

db_test!(
    every_read_answers_the_same_bytes_through_either_executor,
    |app| {
        let hub = arrange(&app).await;
        let orm = relata::Application::with_state(app.state.without_direct_reads(), "127.0.0.1:0")
            .await
            .expect("a second server on the same database");
        let orm_base = format!("http://{}", orm.address());
        let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(orm.run_until(
            async move {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(5),
        ));
        let direct_base = format!("http://{}", app.addr);
        let mut compared = 0;
        let mut queue = paths(&hub);
        while let Some((path, needs_token)) = queue.pop() {
            let token = needs_token.then_some(hub.token.as_str());
            let direct = fetch(&app.client, &direct_base, &path, token).await;
            let through_orm = fetch(&app.client, &orm_base, &path, token).await;
            assert_eq!(direct.0, through_orm.0, "{path}: status");
            assert_eq!(direct.1, through_orm.1, "{path}: X-Query-Count");
            assert_eq!(
                String::from_utf8_lossy(&direct.2),
                String::from_utf8_lossy(&through_orm.2),
                "{path}: body"
            );
            // Follow each first page's cursor once: the second page must agree too.
            if !path.contains("cursor=") && direct.0 == StatusCode::OK {
                let body: serde_json::Value = serde_json::from_slice(&direct.2).unwrap();
                if let Some(cursor) = body["next_cursor"].as_str() {
                    queue.push((format!("{path}&cursor={cursor}"), needs_token));
                }
            }
            compared += 1;
        }
        assert!(compared > 60, "only {compared} requests compared");
    }
);

/// The scenarios and include paths that hold no timestamp the database chose itself
/// (seeded rows carry the seed's own clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_answer_the_same_bodies_for_the_same_seed() {
    let Some(pg) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let lite = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("sqlite always runs");
    let plan = relata::ops::seed::SeedPlan {
        users: 40,
        posts_per_user: 3,
        comments_per_post: 2,
        seed: 11,
    };
    for app in [&lite, &pg] {
        let db = app.raw_db().await;
        relata::ops::seed::run(&db, &plan, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
    }
    let mut paths = vec![
        "/api/v1/posts?limit=20&include=author,comments.author".to_string(),
        "/api/v1/users/1/posts?limit=20".to_string(),
        "/api/v1/posts/5?include=author.profile,comments.author".to_string(),
        "/api/v1/users?limit=50&include=profile,posts.comments.author,comments.post&counts=posts,comments&count=true".to_string(),
        "/api/v1/comments/3?include=author,post.author".to_string(),
    ];
    for list in [
        "/api/v1/posts",
        "/api/v1/users/2/comments",
        "/api/v1/posts/7/comments",
    ] {
        paths.push(format!("{list}?limit=3&include_limit=1&count=true"));
    }
    let mut compared = 0;
    while let Some(path) = paths.pop() {
        let a = fetch(&lite.client, &format!("http://{}", lite.addr), &path, None).await;
        let b = fetch(&pg.client, &format!("http://{}", pg.addr), &path, None).await;
        assert_eq!(a.0, StatusCode::OK, "{path}");
        assert_eq!((a.0, &a.1), (b.0, &b.1), "{path}: status and X-Query-Count");
        assert_eq!(
            String::from_utf8_lossy(&a.2),
            String::from_utf8_lossy(&b.2),
            "{path}: body"
        );
        let body: serde_json::Value = serde_json::from_slice(&a.2).unwrap();
        if !path.contains("cursor=")
            && let Some(cursor) = body["next_cursor"].as_str()
        {
            paths.push(format!("{path}&cursor={cursor}"));
        }
        compared += 1;
    }
    assert!(compared >= 10);
}
