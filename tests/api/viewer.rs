//! `viewer=true` (SPEC §5): the caller's side of the relationships on every post
//! (`favorited`) and user (`following`) of an answer, included ones too, in at most two
//! more statements; 401 without a token.

use reqwest::Method;
use serde_json::Value;

use crate::db_test;
use crate::helpers::TestApp;

async fn put(app: &TestApp, path: String, token: &str) {
    let res = app.request(Method::PUT, &path, Some(token), None).await;
    assert!(res.status.is_success(), "{path}: {}", res.body);
}

fn by_id<'a>(items: &'a Value, id: i64) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {items}"))
}

db_test!(viewer_true_marks_favorites_and_follows_everywhere_in_the_answer, |app| {
    let (me, my_t) = app.seed_user("me").await;
    let (bob, _) = app.seed_user("bob").await;
    let (carol, _) = app.seed_user("carol").await;
    let liked = app.seed_post(bob, "liked").await;
    let other = app.seed_post(carol, "other").await;
    put(&app, format!("/api/v1/posts/{liked}/favorites/{me}"), &my_t).await;
    put(&app, format!("/api/v1/users/{bob}/followers/{me}"), &my_t).await;

    let res = app
        .get("/api/v1/posts?include=author&viewer=true", Some(&my_t))
        .await;
    res.assert_status(200);
    let items = &res.body["items"];
    assert_eq!(by_id(items, liked)["favorited"], true);
    assert_eq!(by_id(items, other)["favorited"], false);
    assert_eq!(by_id(items, liked)["author"]["following"], true);
    assert_eq!(by_id(items, other)["author"]["following"], false);

    // A single GET, and users with their included posts.
    let one = app
        .get(&format!("/api/v1/posts/{liked}?viewer=true"), Some(&my_t))
        .await;
    assert_eq!(one.body["favorited"], true);
    let users = app
        .get("/api/v1/users?include=posts&viewer=true", Some(&my_t))
        .await;
    let bob_item = by_id(&users.body["items"], bob);
    assert_eq!(bob_item["following"], true);
    assert_eq!(bob_item["posts"][0]["favorited"], true);
    assert_eq!(by_id(&users.body["items"], carol)["following"], false);
    assert_eq!(by_id(&users.body["items"], me)["following"], false);

    // Without `viewer=true` the answer has no such fields.
    let plain = app.get("/api/v1/posts?include=author", Some(&my_t)).await;
    assert!(plain.body["items"][0].get("favorited").is_none());
    assert!(plain.body["items"][0]["author"].get("following").is_none());
});

db_test!(viewer_true_needs_a_token, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let post = app.seed_post(alice, "p").await;
    for path in [
        "/api/v1/posts?viewer=true".to_string(),
        format!("/api/v1/posts/{post}?viewer=true"),
        format!("/api/v1/users/{alice}?viewer=true"),
        "/api/v1/users?viewer=true".to_string(),
    ] {
        app.get(&path, None)
            .await
            .assert_problem(401, "missing_token");
    }
    app.get("/api/v1/posts?viewer=maybe", None)
        .await
        .assert_problem(400, "invalid_query");
});

db_test!(viewer_true_costs_at_most_two_statements_at_any_page_size, |app| {
    let (me, my_t) = app.seed_user("me").await;
    let (bob, _) = app.seed_user("bob").await;
    app.seed_posts_bulk(bob, 120, relata::time::now()).await;
    put(&app, format!("/api/v1/users/{bob}/followers/{me}"), &my_t).await;
    let base = "/api/v1/posts?include=author,comments.author&counts=comments";
    let without = app.get(&format!("{base}&limit=100"), Some(&my_t)).await;
    for limit in [1, 100] {
        let with = app
            .get(&format!("{base}&limit={limit}&viewer=true"), Some(&my_t))
            .await;
        with.assert_status(200);
        assert_eq!(with.query_count(), without.query_count() + 2, "limit={limit}");
    }
});
