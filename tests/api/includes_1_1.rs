//! Eager loading of the API 1.1 relations (SPEC §5 "Eager loading additions"): a post's
//! `tags` (names, in order, never cut) and `favorites`; a user's `followers`,
//! `following` and `favorites`, each embedded exactly as its own endpoint lists it; their
//! `counts`; `counts=posts` on tags; and `viewer=true`, which marks every post and user of
//! an answer, included ones too.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;

async fn put(app: &TestApp, path: &str, token: &str) {
    let res = app.request(Method::PUT, path, Some(token), None).await;
    assert!(
        res.status == 201 || res.status == 200,
        "PUT {path}: {} {}",
        res.status,
        res.body
    );
}

async fn write_post(app: &TestApp, token: &str, title: &str, tags: Value) -> i64 {
    let res = app
        .post(
            "/api/v1/posts",
            Some(token),
            json!({"title": title, "content": "c", "tags": tags}),
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_i64().expect("id")
}

/// A small community: alice follows bob and carol, bob and carol follow alice; bob's post
/// is favorited by alice and carol; carol's post by nobody.
struct Town {
    alice: (i64, String),
    bob: (i64, String),
    carol: (i64, String),
    bobs_post: i64,
    carols_post: i64,
}

async fn town(app: &TestApp) -> Town {
    let alice = app.seed_user("alice").await;
    let bob = app.seed_user("bob").await;
    let carol = app.seed_user("carol").await;
    for (followee, follower) in [
        (&bob, &alice),
        (&carol, &alice),
        (&alice, &bob),
        (&alice, &carol),
    ] {
        put(
            app,
            &format!("/api/v1/users/{}/followers/{}", followee.0, follower.0),
            &follower.1,
        )
        .await;
    }
    let bobs_post = write_post(app, &bob.1, "bob writes", json!(["zeta", "alpha", "mid"])).await;
    let carols_post = write_post(app, &carol.1, "carol writes", json!([])).await;
    for fan in [&alice, &carol] {
        put(
            app,
            &format!("/api/v1/posts/{bobs_post}/favorites/{}", fan.0),
            &fan.1,
        )
        .await;
    }
    Town {
        alice,
        bob,
        carol,
        bobs_post,
        carols_post,
    }
}

db_test!(
    a_posts_tags_are_names_in_the_authors_order_never_cut,
    |app| {
        let t = town(&app).await;
        let res = app
            .get(
                &format!("/api/v1/posts/{}?include=tags&include_limit=1", t.bobs_post),
                None,
            )
            .await;
        res.assert_status(200);
        assert_eq!(res.body["tags"], json!(["zeta", "alpha", "mid"]));
        assert!(
            res.body.get("tags_next_cursor").is_none(),
            "tags carry no cursor: {}",
            res.body
        );
        let list = app
            .get("/api/v1/posts?include=tags,author&limit=10", None)
            .await;
        list.assert_status(200);
        for item in list.body["items"].as_array().expect("items") {
            let expected = if item["id"] == json!(t.bobs_post) {
                json!(["zeta", "alpha", "mid"])
            } else {
                json!([])
            };
            assert_eq!(item["tags"], expected, "{item}");
        }
    }
);

db_test!(
    included_follows_and_favorites_are_their_endpoints_items,
    |app| {
        let t = town(&app).await;
        let alice = t.alice.0;
        for relation in ["followers", "following", "favorites"] {
            let own = app
                .get(&format!("/api/v1/users/{alice}/{relation}"), None)
                .await;
            own.assert_status(200);
            let embedded = app
                .get(&format!("/api/v1/users/{alice}?include={relation}"), None)
                .await;
            embedded.assert_status(200);
            assert_eq!(embedded.body[relation], own.body["items"], "{relation}");
            assert_eq!(
                embedded.body[format!("{relation}_next_cursor")],
                Value::Null,
                "{relation} is whole"
            );
        }
        let own = app
            .get(&format!("/api/v1/posts/{}/favorites", t.bobs_post), None)
            .await;
        let embedded = app
            .get(
                &format!("/api/v1/posts/{}?include=favorites", t.bobs_post),
                None,
            )
            .await;
        assert_eq!(embedded.body["favorites"], own.body["items"]);
        assert_eq!(own.body["items"].as_array().map(Vec::len), Some(2));

        // Cut at include_limit, the cursor continues the post's own favorites list.
        let cut = app
            .get(
                &format!(
                    "/api/v1/posts/{}?include=favorites&include_limit=1",
                    t.bobs_post
                ),
                None,
            )
            .await;
        let cursor = cut.body["favorites_next_cursor"]
            .as_str()
            .expect("cut after one");
        let rest = app
            .get(
                &format!("/api/v1/posts/{}/favorites?cursor={cursor}", t.bobs_post),
                None,
            )
            .await;
        rest.assert_status(200);
        let mut joined = cut.body["favorites"].as_array().unwrap().clone();
        joined.extend(rest.body["items"].as_array().unwrap().iter().cloned());
        assert_eq!(Value::Array(joined), own.body["items"]);
    }
);

db_test!(the_new_relations_are_counted, |app| {
    let t = town(&app).await;
    let res = app
        .get(
            &format!(
                "/api/v1/users/{}?counts=followers,following,favorites,posts",
                t.alice.0
            ),
            None,
        )
        .await;
    res.assert_status(200);
    assert_eq!(
        res.body["counts"],
        json!({"followers": 2, "following": 2, "favorites": 1, "posts": 0})
    );
    let posts = app
        .get("/api/v1/posts?counts=favorites,comments", None)
        .await;
    posts.assert_status(200);
    for item in posts.body["items"].as_array().unwrap() {
        let n = if item["id"] == json!(t.bobs_post) {
            2
        } else {
            0
        };
        assert_eq!(item["counts"], json!({"favorites": n, "comments": 0}));
    }
    let tags = app.get("/api/v1/tags?counts=posts", None).await;
    tags.assert_status(200);
    let names: Vec<(&str, i64)> = tags.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["counts"]["posts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, vec![("alpha", 1), ("mid", 1), ("zeta", 1)]);
    app.get("/api/v1/tags?counts=users", None)
        .await
        .assert_problem(400, "invalid_counts");
    app.get("/api/v1/tags?include=posts", None)
        .await
        .assert_problem(400, "invalid_include");
});

db_test!(viewer_true_marks_every_post_and_user_of_the_answer, |app| {
    let t = town(&app).await;
    let (_, alice_token) = &t.alice;
    // Posts and their included authors.
    let res = app
        .get(
            "/api/v1/posts?include=author,favorites&viewer=true",
            Some(alice_token),
        )
        .await;
    res.assert_status(200);
    for item in res.body["items"].as_array().unwrap() {
        let bobs = item["id"] == json!(t.bobs_post);
        assert_eq!(
            item["favorited"],
            json!(bobs),
            "alice favorited bob's post only"
        );
        // Alice follows both authors.
        assert_eq!(item["author"]["following"], json!(true), "{item}");
        for fav in item["favorites"].as_array().unwrap() {
            let follows = fav["user"]["id"] == json!(t.carol.0);
            assert_eq!(fav["user"]["following"], json!(follows), "{fav}");
        }
    }
    // A single GET, and a user's posts and followers.
    let bob = app
        .get(
            &format!(
                "/api/v1/users/{}?include=posts,followers&viewer=true",
                t.bob.0
            ),
            Some(&t.carol.1),
        )
        .await;
    bob.assert_status(200);
    assert_eq!(
        bob.body["following"],
        json!(false),
        "carol does not follow bob"
    );
    assert_eq!(bob.body["posts"][0]["favorited"], json!(true));
    assert_eq!(bob.body["followers"][0]["user"]["id"], json!(t.alice.0));
    assert_eq!(bob.body["followers"][0]["user"]["following"], json!(true));
    // Association lists mark their users and posts too.
    let favs = app
        .get(
            &format!("/api/v1/users/{}/favorites?viewer=true", t.carol.0),
            Some(&t.bob.1),
        )
        .await;
    favs.assert_status(200);
    assert_eq!(favs.body["items"][0]["post"]["favorited"], json!(false));
    // Carol's post: nobody favorited it.
    let carols = app
        .get(
            &format!("/api/v1/posts/{}?viewer=true", t.carols_post),
            Some(alice_token),
        )
        .await;
    assert_eq!(carols.body["favorited"], json!(false));

    // Without viewer=true nothing is added; without a token viewer=true is 401.
    let plain = app
        .get("/api/v1/posts?include=author", Some(alice_token))
        .await;
    assert!(plain.body["items"][0].get("favorited").is_none());
    assert!(plain.body["items"][0]["author"].get("following").is_none());
    for path in [
        "/api/v1/posts?viewer=true".to_string(),
        format!("/api/v1/users/{}?viewer=true", t.bob.0),
        format!("/api/v1/users/{}/followers?viewer=true", t.bob.0),
    ] {
        app.get(&path, None)
            .await
            .assert_problem(401, "missing_token");
    }
    app.get("/api/v1/posts?viewer=maybe", Some(alice_token))
        .await
        .assert_status(400);
});
