//! Favorites (SPEC §5): the many-to-many whose rows carry data, its two views, the
//! `favorited_by` filter, who may favorite, and concurrent PUTs.

use relata::entity::favorite;
use reqwest::Method;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::db_test;
use crate::helpers::{Res, TestApp};

fn path(post: i64, user: i64) -> String {
    format!("/api/v1/posts/{post}/favorites/{user}")
}

/// A PUT without a body.
pub async fn favorite(app: &TestApp, post: i64, user: i64, token: &str) -> Res {
    app.request(Method::PUT, &path(post, user), Some(token), None)
        .await
}

fn ids_at(body: &Value, pointer: &str) -> Vec<i64> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i.pointer(pointer).and_then(Value::as_i64).expect("an id"))
        .collect()
}

async fn favorite_rows(app: &TestApp) -> u64 {
    favorite::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

db_test!(a_favorite_shows_from_the_post_and_from_the_user, |app| {
    let (alice, alice_t) = app.seed_user("alice").await;
    let (bob, bob_t) = app.seed_user("bob").await;
    let first = app.seed_post(bob, "first").await;
    let second = app.seed_post(bob, "second").await;

    let res = favorite(&app, first, alice, &alice_t).await;
    res.assert_status(201);
    assert_eq!(res.header("location"), Some(path(first, alice).as_str()));
    assert_eq!(res.body["user"]["id"], alice);
    assert_eq!(
        res.body["user"]["email"], "alice@example.com",
        "the caller sees their email"
    );
    let favorited_at = res.body["favorited_at"].clone();
    let again = favorite(&app, first, alice, &alice_t).await;
    again.assert_status(200);
    assert_eq!(again.body["favorited_at"], favorited_at);

    favorite(&app, second, alice, &alice_t)
        .await
        .assert_status(201);
    favorite(&app, first, bob, &bob_t).await.assert_status(201);

    let of_post = app
        .get(&format!("/api/v1/posts/{first}/favorites?count=true"), None)
        .await;
    of_post.assert_status(200);
    assert_eq!(ids_at(&of_post.body, "/user/id"), [bob, alice]);
    assert_eq!(of_post.body["total"], 2);
    let of_user = app
        .get(&format!("/api/v1/users/{alice}/favorites"), None)
        .await;
    assert_eq!(ids_at(&of_user.body, "/post/id"), [second, first]);
    assert_eq!(of_user.body["items"][1]["favorited_at"], favorited_at);
    assert_eq!(of_user.body["items"][1]["post"]["title"], "first");

    // `favorited_by` filters any post list.
    let liked = app
        .collect_ids(&format!("/api/v1/posts?favorited_by={alice}&limit=1"))
        .await;
    assert_eq!(liked, [second, first]);
    let liked_by_bob = app
        .collect_ids(&format!("/api/v1/users/{bob}/posts?favorited_by={bob}"))
        .await;
    assert_eq!(liked_by_bob, [first]);
    app.get("/api/v1/posts?favorited_by=0", None)
        .await
        .assert_problem(400, "invalid_query");
    app.get(
        &format!("/api/v1/posts/{first}/favorites?counts=posts"),
        None,
    )
    .await
    .assert_problem(400, "invalid_include");
});

db_test!(
    favoriting_checks_in_spec_order_and_writes_nothing_when_refused,
    |app| {
        let (alice, alice_t) = app.seed_user("alice").await;
        let (bob, bob_t) = app.seed_user("bob").await;
        let (_, admin_t) = app.seed_user_with_role("root", "admin").await;
        let post = app.seed_post(bob, "p").await;

        app.request(Method::PUT, &path(post, alice), None, None)
            .await
            .assert_problem(401, "missing_token");
        favorite(&app, 9999, alice, &alice_t)
            .await
            .assert_problem(404, "not_found");
        favorite(&app, post, 9999, &alice_t)
            .await
            .assert_problem(404, "not_found");
        favorite(&app, post, alice, &bob_t)
            .await
            .assert_problem(403, "forbidden");
        favorite(&app, post, alice, &admin_t)
            .await
            .assert_problem(403, "forbidden");
        assert_eq!(favorite_rows(&app).await, 0, "nothing was written");
        app.get("/api/v1/users/9999/favorites", None)
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/posts/9999/favorites", None)
            .await
            .assert_problem(404, "not_found");
    }
);

db_test!(
    unfavoriting_is_for_that_user_or_an_admin_and_404_comes_first,
    |app| {
        let (alice, alice_t) = app.seed_user("alice").await;
        let (bob, bob_t) = app.seed_user("bob").await;
        let (_, admin_t) = app.seed_user_with_role("root", "admin").await;
        let post = app.seed_post(bob, "p").await;
        favorite(&app, post, alice, &alice_t)
            .await
            .assert_status(201);
        favorite(&app, post, bob, &bob_t).await.assert_status(201);

        app.delete(&path(post, 9999), Some(&bob_t))
            .await
            .assert_problem(404, "not_found");
        let other = app.seed_post(alice, "q").await;
        app.delete(&path(other, alice), Some(&bob_t))
            .await
            .assert_problem(404, "not_found");
        app.delete(&path(post, alice), Some(&bob_t))
            .await
            .assert_problem(403, "forbidden");
        app.delete(&path(post, alice), Some(&alice_t))
            .await
            .assert_status(204);
        app.delete(&path(post, bob), Some(&admin_t))
            .await
            .assert_status(204);
        assert_eq!(favorite_rows(&app).await, 0);
    }
);

db_test!(concurrent_favorites_leave_one_row_and_one_201, |app| {
    let (alice, alice_t) = app.seed_user("alice").await;
    let post = app.seed_post(alice, "p").await;
    let puts = (0..8).map(|_| favorite(&app, post, alice, &alice_t));
    let statuses: Vec<u16> = futures::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(favorite_rows(&app).await, 1);
});
