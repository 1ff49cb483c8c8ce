//! Cursors bound to their list (SPEC §5 "Cursors"): a `next_cursor` continues the list that
//! issued it — same path, same parent, same filters, and for the feed the same caller —
//! and is refused with 400 `invalid_cursor` anywhere else; an embedded
//! `<relation>_next_cursor` continues the relation's own endpoint for that parent.

use reqwest::Method;

use crate::db_test;
use crate::helpers::TestApp;

async fn next_cursor(app: &TestApp, path: &str, token: Option<&str>) -> String {
    let res = app.get(path, token).await;
    res.assert_status(200);
    res.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a next page: {}", res.body))
        .to_string()
}

fn with_cursor(path: &str, cursor: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}cursor={cursor}")
}

db_test!(a_cursor_is_refused_by_another_parent_path_or_filter, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    for i in 0..3 {
        app.seed_post(alice, &format!("rust {i}")).await;
        app.seed_post(bob, &format!("rust {i}")).await;
    }
    let mine = next_cursor(&app, &format!("/api/v1/users/{alice}/posts?limit=1"), None).await;
    // The same list, whatever limit, include or counts: accepted.
    app.get(
        &with_cursor(
            &format!("/api/v1/users/{alice}/posts?limit=5&include=author&counts=comments&count=true"),
            &mine,
        ),
        None,
    )
    .await
    .assert_status(200);
    for other in [
        format!("/api/v1/users/{bob}/posts"),
        "/api/v1/posts".to_string(),
        format!("/api/v1/users/{alice}/posts?q=rust"),
        format!("/api/v1/users/{alice}/posts?author_id={alice}"),
        format!("/api/v1/users/{alice}/comments"),
    ] {
        app.get(&with_cursor(&other, &mine), None)
            .await
            .assert_problem(400, "invalid_cursor");
    }
    let filtered = next_cursor(&app, "/api/v1/posts?q=rust&limit=1", None).await;
    app.get(&with_cursor("/api/v1/posts?q=rust&limit=2", &filtered), None)
        .await
        .assert_status(200);
    app.get(&with_cursor("/api/v1/posts?q=RUST", &filtered), None)
        .await
        .assert_problem(400, "invalid_cursor");
    app.get(&with_cursor("/api/v1/posts", &filtered), None)
        .await
        .assert_problem(400, "invalid_cursor");
    let _ = token;
});

db_test!(the_two_views_of_follows_do_not_share_cursors, |app| {
    let (star, star_t) = app.seed_user("star").await;
    for i in 0..3 {
        let (fan, token) = app.seed_user(&format!("fan{i}")).await;
        app.request(
            Method::PUT,
            &format!("/api/v1/users/{star}/followers/{fan}"),
            Some(&token),
            None,
        )
        .await
        .assert_status(201);
        app.request(
            Method::PUT,
            &format!("/api/v1/users/{fan}/followers/{star}"),
            Some(&star_t),
            None,
        )
        .await
        .assert_status(201);
    }
    let followers =
        next_cursor(&app, &format!("/api/v1/users/{star}/followers?limit=1"), None).await;
    app.get(
        &with_cursor(&format!("/api/v1/users/{star}/followers"), &followers),
        None,
    )
    .await
    .assert_status(200);
    app.get(
        &with_cursor(&format!("/api/v1/users/{star}/following"), &followers),
        None,
    )
    .await
    .assert_problem(400, "invalid_cursor");
});

db_test!(a_feed_cursor_belongs_to_its_caller, |app| {
    let (alice, alice_t) = app.seed_user("alice").await;
    let (bob, bob_t) = app.seed_user("bob").await;
    let (carol, _) = app.seed_user("carol").await;
    for i in 0..3 {
        app.seed_post(carol, &format!("c{i}")).await;
    }
    for (who, token) in [(alice, &alice_t), (bob, &bob_t)] {
        app.request(
            Method::PUT,
            &format!("/api/v1/users/{carol}/followers/{who}"),
            Some(token),
            None,
        )
        .await
        .assert_status(201);
    }
    let cursor = next_cursor(&app, "/api/v1/feed?limit=1", Some(&alice_t)).await;
    app.get(&with_cursor("/api/v1/feed", &cursor), Some(&alice_t))
        .await
        .assert_status(200);
    app.get(&with_cursor("/api/v1/feed", &cursor), Some(&bob_t))
        .await
        .assert_problem(400, "invalid_cursor");
});

db_test!(an_embedded_cursor_continues_the_relations_own_endpoint, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let mut posts = Vec::new();
    for i in 0..3 {
        posts.push(app.seed_post(alice, &format!("p{i}")).await);
        app.seed_post(bob, &format!("q{i}")).await;
    }
    let res = app
        .get(
            &format!("/api/v1/users/{alice}?include=posts&include_limit=1"),
            None,
        )
        .await;
    res.assert_status(200);
    let cursor = res.body["posts_next_cursor"].as_str().unwrap().to_string();
    let rest = app
        .collect_ids_after(&format!("/api/v1/users/{alice}/posts"), Some(cursor.clone()))
        .await;
    posts.reverse();
    assert_eq!(rest, posts[1..]);
    app.get(&with_cursor(&format!("/api/v1/users/{bob}/posts"), &cursor), None)
        .await
        .assert_problem(400, "invalid_cursor");
    app.get(&with_cursor("/api/v1/posts", &cursor), None)
        .await
        .assert_problem(400, "invalid_cursor");
});
