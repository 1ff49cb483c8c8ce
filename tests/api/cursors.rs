//! Cursors are bound to the list that issued them (SPEC §5 "Cursors"): another path,
//! another parent, another filter or another caller's feed answers 400 `invalid_cursor`,
//! while the parameters that do not choose rows (`limit`, `include`, `counts`, `count`)
//! keep a cursor valid; an embedded `<relation>_next_cursor` continues the relation's own
//! endpoint for that parent and no other list.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;

/// The `next_cursor` of `path`'s first page (which must have one).
async fn first_cursor(app: &TestApp, path: &str, token: Option<&str>) -> String {
    let res = app.get(path, token).await;
    res.assert_status(200);
    res.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a second page: {}", res.body))
        .to_string()
}

/// `path` with `cursor` appended to its query.
fn with_cursor(path: &str, cursor: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}cursor={cursor}")
}

/// Asserts that `cursor` pages each of `accepted` (200) and is refused by each of
/// `refused` (400 `invalid_cursor`).
async fn check(
    app: &TestApp,
    cursor: &str,
    token: Option<&str>,
    accepted: &[String],
    refused: &[String],
) {
    for path in accepted {
        let res = app.get(&with_cursor(path, cursor), token).await;
        assert_eq!(res.status, 200, "{path} accepts the cursor: {}", res.body);
    }
    for path in refused {
        app.get(&with_cursor(path, cursor), token)
            .await
            .assert_problem(400, "invalid_cursor");
    }
}

fn ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect()
}

db_test!(a_post_list_cursor_is_refused_by_every_other_list, |app| {
    let (alice, alice_token) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    for i in 0..3 {
        app.post(
            "/api/v1/posts",
            Some(&alice_token),
            json!({"title": format!("tagged {i}"), "content": "", "tags": ["rust"]}),
        )
        .await
        .assert_status(201);
        app.seed_post(bob, &format!("bob {i}")).await;
    }
    let cursor = first_cursor(&app, "/api/v1/posts?limit=1", None).await;
    check(
        &app,
        &cursor,
        None,
        &[
            "/api/v1/posts?limit=5".into(),
            "/api/v1/posts?include=author&counts=comments&count=true".into(),
            "/api/v1/posts?q=".into(),
        ],
        &[
            format!("/api/v1/users/{alice}/posts"),
            format!("/api/v1/posts?author_id={alice}"),
            "/api/v1/posts?q=tagged".into(),
            "/api/v1/posts?tag=rust".into(),
            format!("/api/v1/posts?favorited_by={alice}"),
            "/api/v1/tags/rust/posts".into(),
            format!("/api/v1/users/{alice}/comments"),
            "/api/v1/users".into(),
        ],
    )
    .await;
    // The feed's cursor is bound to /feed, the filters, and its caller.
    check(
        &app,
        &cursor,
        Some(&alice_token),
        &[],
        &["/api/v1/feed".into()],
    )
    .await;

    // A parent's list refuses another parent's cursor, and the tag list is bound to its
    // tag in its normal form.
    let alices = first_cursor(&app, &format!("/api/v1/users/{alice}/posts?limit=1"), None).await;
    check(
        &app,
        &alices,
        None,
        &[format!("/api/v1/users/{alice}/posts?limit=2")],
        &[format!("/api/v1/users/{bob}/posts"), "/api/v1/posts".into()],
    )
    .await;
    let tagged = first_cursor(&app, "/api/v1/tags/rust/posts?limit=1", None).await;
    check(
        &app,
        &tagged,
        None,
        &["/api/v1/tags/%20RUST%20/posts".into()],
        &["/api/v1/posts?tag=rust".into(), "/api/v1/posts".into()],
    )
    .await;
    let filtered = first_cursor(&app, "/api/v1/posts?tag=rust&limit=1", None).await;
    check(
        &app,
        &filtered,
        None,
        &["/api/v1/posts?tag=Rust".into()],
        &[
            "/api/v1/posts?tag=go".into(),
            "/api/v1/posts?tag=rust&q=x".into(),
        ],
    )
    .await;
});

db_test!(a_feed_cursor_is_bound_to_its_caller, |app| {
    let (star, _) = app.seed_user("star").await;
    let (fan, fan_token) = app.seed_user("fan").await;
    let (other_fan, other_token) = app.seed_user("otherfan").await;
    for follower in [(fan, &fan_token), (other_fan, &other_token)] {
        app.request(
            Method::PUT,
            &format!("/api/v1/users/{star}/followers/{}", follower.0),
            Some(follower.1),
            None,
        )
        .await
        .assert_status(201);
    }
    for i in 0..3 {
        app.seed_post(star, &format!("post {i}")).await;
    }
    let cursor = first_cursor(&app, "/api/v1/feed?limit=1", Some(&fan_token)).await;
    let second = app
        .get(
            &with_cursor("/api/v1/feed?limit=5", &cursor),
            Some(&fan_token),
        )
        .await;
    second.assert_status(200);
    assert_eq!(
        ids(&second.body).len(),
        2,
        "the feed continues for its caller"
    );
    check(
        &app,
        &cursor,
        Some(&other_token),
        &[],
        &["/api/v1/feed".into()],
    )
    .await;
});

db_test!(
    association_lists_of_the_same_shape_refuse_each_others_cursors,
    |app| {
        let (star, star_token) = app.seed_user("star").await;
        let post = app.seed_post(star, "liked").await;
        let mut fans = Vec::new();
        for i in 0..3 {
            let (fan, token) = app.seed_user(&format!("fan{i}")).await;
            for path in [
                format!("/api/v1/users/{star}/followers/{fan}"),
                format!("/api/v1/users/{fan}/followers/{star}"),
            ] {
                let who = if path.ends_with(&format!("/{fan}")) {
                    &token
                } else {
                    &star_token
                };
                app.request(Method::PUT, &path, Some(who), None)
                    .await
                    .assert_status(201);
            }
            app.request(
                Method::PUT,
                &format!("/api/v1/posts/{post}/favorites/{fan}"),
                Some(&token),
                None,
            )
            .await
            .assert_status(201);
            fans.push(fan);
        }
        // followers and following have the same sort keys (time, user id): only the
        // binding tells them apart.
        let followers = first_cursor(
            &app,
            &format!("/api/v1/users/{star}/followers?limit=1"),
            None,
        )
        .await;
        check(
            &app,
            &followers,
            None,
            &[format!("/api/v1/users/{star}/followers?limit=3")],
            &[
                format!("/api/v1/users/{star}/following"),
                format!("/api/v1/users/{}/followers", fans[0]),
                format!("/api/v1/posts/{post}/favorites"),
            ],
        )
        .await;
        let favorites = first_cursor(
            &app,
            &format!("/api/v1/posts/{post}/favorites?limit=1"),
            None,
        )
        .await;
        check(
            &app,
            &favorites,
            None,
            &[format!("/api/v1/posts/{post}/favorites")],
            &[
                format!("/api/v1/users/{star}/followers"),
                format!("/api/v1/users/{}/favorites", fans[0]),
            ],
        )
        .await;
    }
);

db_test!(
    an_embedded_cursor_continues_only_the_relations_own_endpoint,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        let mut posts = Vec::new();
        for i in 0..3 {
            posts.push(app.seed_post(alice, &format!("alice {i}")).await);
            app.seed_post(bob, &format!("bob {i}")).await;
        }
        let res = app
            .get(
                &format!("/api/v1/users/{alice}?include=posts.comments&include_limit=1"),
                None,
            )
            .await;
        res.assert_status(200);
        let cursor = res.body["posts_next_cursor"]
            .as_str()
            .expect("the embedded list was cut")
            .to_string();
        let rest = app
            .get(
                &with_cursor(&format!("/api/v1/users/{alice}/posts"), &cursor),
                None,
            )
            .await;
        rest.assert_status(200);
        posts.reverse();
        assert_eq!(
            ids(&rest.body),
            posts[1..].to_vec(),
            "continues after the embedded one"
        );
        check(
            &app,
            &cursor,
            None,
            &[],
            &[
                format!("/api/v1/users/{bob}/posts"),
                "/api/v1/posts".into(),
                format!("/api/v1/users/{alice}/posts?q=alice"),
            ],
        )
        .await;

        // The same from a list page: each user's embedded cursor is their own.
        let page = app
            .get("/api/v1/users?include=posts&include_limit=1", None)
            .await;
        page.assert_status(200);
        let mut checked = 0;
        for user in page.body["items"].as_array().expect("items") {
            let id = user["id"].as_i64().expect("id");
            let Some(cursor) = user["posts_next_cursor"].as_str() else {
                continue;
            };
            let other = if id == alice { bob } else { alice };
            check(
                &app,
                cursor,
                None,
                &[format!("/api/v1/users/{id}/posts")],
                &[format!("/api/v1/users/{other}/posts")],
            )
            .await;
            checked += 1;
        }
        assert_eq!(checked, 2, "alice's and bob's embedded posts were both cut");
    }
);
