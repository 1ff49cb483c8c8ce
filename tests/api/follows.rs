//! Follows (SPEC §5): the self-referential many-to-many, its two views, who may follow
//! and unfollow, and the races the database settles.

use relata::entity::follow;
use reqwest::Method;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::db_test;
use crate::helpers::{Res, TestApp};

fn path(followee: i64, follower: i64) -> String {
    format!("/api/v1/users/{followee}/followers/{follower}")
}

/// A PUT without a body, as a client following someone sends it.
pub async fn follow(app: &TestApp, followee: i64, follower: i64, token: &str) -> Res {
    app.request(Method::PUT, &path(followee, follower), Some(token), None)
        .await
}

fn user_ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["user"]["id"].as_i64().expect("a user id"))
        .collect()
}

async fn follow_rows(app: &TestApp) -> u64 {
    follow::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

db_test!(a_follow_shows_in_both_views_newest_first, |app| {
    let (alice, alice_t) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let (carol, carol_t) = app.seed_user("carol").await;

    let res = follow(&app, bob, alice, &alice_t).await;
    res.assert_status(201);
    assert_eq!(res.header("location"), Some(path(bob, alice).as_str()));
    assert_eq!(res.body["user"]["id"], alice, "seen from bob: the follower");
    let followed_at = res.body["followed_at"].clone();
    assert!(followed_at.is_string());

    // Again: 200, the same row, unchanged.
    let again = follow(&app, bob, alice, &alice_t).await;
    again.assert_status(200);
    assert_eq!(again.body["followed_at"], followed_at);
    assert_eq!(again.header("location"), None);

    follow(&app, bob, carol, &carol_t).await.assert_status(201);
    follow(&app, carol, alice, &alice_t)
        .await
        .assert_status(201);

    let followers = app
        .get(&format!("/api/v1/users/{bob}/followers"), None)
        .await;
    followers.assert_status(200);
    assert_eq!(user_ids(&followers.body), [carol, alice]);
    assert!(followers.body["items"][0]["user"].get("email").is_none());
    let following = app
        .get(&format!("/api/v1/users/{alice}/following?count=true"), None)
        .await;
    assert_eq!(user_ids(&following.body), [carol, bob]);
    assert_eq!(following.body["total"], 2);
    assert_eq!(
        following.body["items"][1]["followed_at"], followed_at,
        "the same row from the other side"
    );
    let nobody = app
        .get(&format!("/api/v1/users/{alice}/followers"), None)
        .await;
    assert_eq!(user_ids(&nobody.body), Vec::<i64>::new());
});

db_test!(the_follow_lists_page_with_a_cursor, |app| {
    let (star, _) = app.seed_user("star").await;
    let mut fans = Vec::new();
    for i in 0..5 {
        let (fan, token) = app.seed_user(&format!("fan{i}")).await;
        follow(&app, star, fan, &token).await.assert_status(201);
        fans.push(fan);
    }
    let mut seen = Vec::new();
    let mut url = format!("/api/v1/users/{star}/followers?limit=2");
    for _ in 0..5 {
        let res = app.get(&url, None).await;
        res.assert_status(200);
        seen.extend(user_ids(&res.body));
        match res.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/users/{star}/followers?limit=2&cursor={c}"),
            None => break,
        }
    }
    fans.reverse();
    assert_eq!(seen, fans);
    app.get(
        &format!("/api/v1/users/{star}/followers?include=posts"),
        None,
    )
    .await
    .assert_problem(400, "invalid_include");
});

db_test!(
    following_checks_in_spec_order_and_writes_nothing_when_refused,
    |app| {
        let (alice, alice_t) = app.seed_user("alice").await;
        let (bob, bob_t) = app.seed_user("bob").await;
        let (_, admin_t) = app.seed_user_with_role("root", "admin").await;

        app.request(Method::PUT, &path(bob, alice), None, None)
            .await
            .assert_problem(401, "missing_token");
        app.request(
            Method::PUT,
            &format!("/api/v1/users/{bob}/followers/x"),
            Some(&alice_t),
            None,
        )
        .await
        .assert_problem(400, "invalid_path");
        follow(&app, 9999, alice, &alice_t)
            .await
            .assert_problem(404, "not_found");
        follow(&app, bob, 9999, &alice_t)
            .await
            .assert_problem(404, "not_found");
        // Following as someone else: 403, an admin included.
        follow(&app, bob, alice, &bob_t)
            .await
            .assert_problem(403, "forbidden");
        follow(&app, bob, alice, &admin_t)
            .await
            .assert_problem(403, "forbidden");
        // Following yourself: 422 naming the follower.
        let res = follow(&app, alice, alice, &alice_t).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "follower_id");
        assert_eq!(follow_rows(&app).await, 0, "nothing was written");
    }
);

db_test!(
    unfollowing_is_for_the_follower_or_an_admin_and_404_comes_first,
    |app| {
        let (alice, alice_t) = app.seed_user("alice").await;
        let (bob, bob_t) = app.seed_user("bob").await;
        let (carol, carol_t) = app.seed_user("carol").await;
        let (_, admin_t) = app.seed_user_with_role("root", "admin").await;
        follow(&app, bob, alice, &alice_t).await.assert_status(201);
        follow(&app, bob, carol, &carol_t).await.assert_status(201);

        // Not following: 404 before any 403.
        app.delete(&path(alice, bob), Some(&carol_t))
            .await
            .assert_problem(404, "not_found");
        app.delete(&path(bob, alice), Some(&bob_t))
            .await
            .assert_problem(403, "forbidden");
        assert_eq!(follow_rows(&app).await, 2);
        app.delete(&path(bob, alice), Some(&alice_t))
            .await
            .assert_status(204);
        app.delete(&path(bob, carol), Some(&admin_t))
            .await
            .assert_status(204);
        app.delete(&path(bob, carol), Some(&carol_t))
            .await
            .assert_problem(404, "not_found");
        assert_eq!(follow_rows(&app).await, 0);
    }
);

db_test!(concurrent_follows_leave_one_row_and_one_201, |app| {
    let (alice, alice_t) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let puts = (0..8).map(|_| follow(&app, bob, alice, &alice_t));
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
    assert_eq!(follow_rows(&app).await, 1);
});

db_test!(
    the_feed_lists_the_posts_of_followed_users_newest_first,
    |app| {
        let (alice, alice_t) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        let (carol, _) = app.seed_user("carol").await;
        let (dave, _) = app.seed_user("dave").await;
        let base = chrono::Utc::now() - chrono::Duration::hours(1);
        let b1 = app.seed_post_at(bob, "b1", base).await;
        let c1 = app
            .seed_post_at(carol, "c1", base + chrono::Duration::minutes(1))
            .await;
        let b2 = app
            .seed_post_at(bob, "b2", base + chrono::Duration::minutes(2))
            .await;
        app.seed_post_at(dave, "d1", base + chrono::Duration::minutes(3))
            .await;
        app.seed_post_at(alice, "a1", base + chrono::Duration::minutes(4))
            .await;

        let empty = app.get("/api/v1/feed", Some(&alice_t)).await;
        empty.assert_status(200);
        assert_eq!(empty.body["items"], serde_json::json!([]));

        follow(&app, bob, alice, &alice_t).await.assert_status(201);
        follow(&app, carol, alice, &alice_t)
            .await
            .assert_status(201);
        let feed = app
            .get("/api/v1/feed?include=author&count=true", Some(&alice_t))
            .await;
        feed.assert_status(200);
        let ids: Vec<i64> = feed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [b2, c1, b1]);
        assert_eq!(feed.body["total"], 3);
        assert_eq!(feed.body["items"][1]["author"]["username"], "carol");
        let page = app
            .collect_ids_with_token("/api/v1/feed?limit=1", &alice_t)
            .await;
        assert_eq!(page, [b2, c1, b1]);

        app.get("/api/v1/feed", None)
            .await
            .assert_problem(401, "missing_token");
    }
);
