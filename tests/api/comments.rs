//! Comments through HTTP: on a post and by a user, with SPEC §3's statuses and their
//! order, the authorization matrix (the post's author may delete comments on it), keyset
//! paging oldest first, and include/counts within the query budget.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::json;

use crate::db_test;

db_test!(commenting_on_a_post_answers_201_with_its_location, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let (bob, bob_token) = app.seed_user("bob").await;
    let post = app.seed_post(alice, "p").await;

    let res = app
        .post(
            &format!("/api/v1/posts/{post}/comments"),
            Some(&bob_token),
            json!({"body": " Nice! "}),
        )
        .await;

    res.assert_status(201);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/comments/{id}").as_str())
    );
    assert_eq!(res.body["post_id"], post);
    assert_eq!(res.body["author_id"], bob);
    assert_eq!(res.body["body"], " Nice! ", "a body is kept as written");
    let fetched = app.get(&format!("/api/v1/comments/{id}"), None).await;
    fetched.assert_status(200);
    assert_eq!(fetched.body, res.body);
});

db_test!(commenting_checks_the_request_in_spec_order, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let post = app.seed_post(alice, "p").await;
    let path = format!("/api/v1/posts/{post}/comments");

    app.post(&path, None, json!({"body": "x"}))
        .await
        .assert_problem(401, "missing_token");
    app.post(
        "/api/v1/posts/abc/comments",
        Some(&token),
        json!({"body": "x"}),
    )
    .await
    .assert_problem(400, "invalid_path");
    let res = app
        .client
        .post(app.url("/api/v1/posts/999/comments"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        415,
        "the body's form before the post's absence"
    );
    // An absent post wins over an invalid body.
    app.post(
        "/api/v1/posts/999/comments",
        Some(&token),
        json!({"body": ""}),
    )
    .await
    .assert_problem(404, "not_found");
    for bad in [
        json!({"body": ""}),
        json!({"body": "   "}),
        json!({}),
        json!({"body": null}),
        json!({"body": "x".repeat(10_001)}),
    ] {
        let res = app.post(&path, Some(&token), bad).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "body");
    }
    app.post(&path, Some(&token), json!({"body": "x", "post_id": 1}))
        .await
        .assert_problem(422, "validation_failed");
    app.post(&path, Some(&token), json!({"body": "x".repeat(10_000)}))
        .await
        .assert_status(201);
});

db_test!(reading_a_comment_answers_404_or_400, |app| {
    app.get("/api/v1/comments/999", None)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/comments/0", None)
        .await
        .assert_problem(400, "invalid_path");
    app.get("/api/v1/posts/999/comments", None)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/users/999/comments", None)
        .await
        .assert_problem(404, "not_found");
});

db_test!(editing_a_comment_replaces_its_body, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let post = app.seed_post(alice, "p").await;
    let id = app
        .seed_comment_at(post, alice, relata::time::now() - Duration::minutes(1))
        .await;

    let res = app
        .patch(
            &format!("/api/v1/comments/{id}"),
            Some(&token),
            json!({"body": "edited"}),
        )
        .await;

    res.assert_status(200);
    assert_eq!(res.body["body"], "edited");
    assert_ne!(res.body["updated_at"], res.body["created_at"]);
    let res = app
        .patch(
            &format!("/api/v1/comments/{id}"),
            Some(&token),
            json!({"body": ""}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    app.patch("/api/v1/comments/999", Some(&token), json!({"body": ""}))
        .await
        .assert_problem(404, "not_found");
});

db_test!(who_may_edit_and_delete_a_comment, |app| {
    let cast = app.seed_cast().await;
    // The comment belongs to the cast's owner; the post it is on to `post_author`.
    let (post_author, post_author_token) = app.seed_user("post_author").await;
    let post = app.seed_post(post_author, "their post").await;
    let actors: [(&str, Option<&str>); 6] = [
        ("anonymous", None),
        ("another user", Some(&cast.other.1)),
        ("the comment's author", Some(&cast.owner.1)),
        ("the post's author", Some(&post_author_token)),
        ("a moderator", Some(&cast.moderator.1)),
        ("an admin", Some(&cast.admin.1)),
    ];
    let patch_expected = [401, 403, 200, 403, 403, 200];
    let delete_expected = [401, 403, 204, 204, 204, 204];

    for ((who, token), (patch_status, delete_status)) in actors
        .iter()
        .zip(patch_expected.into_iter().zip(delete_expected))
    {
        let id = app.seed_comment(post, cast.owner.0).await;
        let res = app
            .patch(
                &format!("/api/v1/comments/{id}"),
                *token,
                json!({"body": "edited"}),
            )
            .await;
        assert_eq!(
            res.status.as_u16(),
            patch_status,
            "PATCH by {who}: {}",
            res.body
        );
        let res = app.delete(&format!("/api/v1/comments/{id}"), *token).await;
        assert_eq!(
            res.status.as_u16(),
            delete_status,
            "DELETE by {who}: {}",
            res.body
        );
        if delete_status == 204 {
            app.get(&format!("/api/v1/comments/{id}"), None)
                .await
                .assert_problem(404, "not_found");
        }
    }
});

db_test!(
    paging_through_a_posts_comments_oldest_first_has_no_duplicate_and_no_gap,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        let post = app.seed_post(alice, "p").await;
        let other_post = app.seed_post(alice, "q").await;
        let base = relata::time::now() - Duration::hours(1);
        let mut expected = Vec::new();
        for i in 0..27 {
            // Triples share an instant; the id breaks the tie.
            let author = if i % 2 == 0 { alice } else { bob };
            expected.push(
                app.seed_comment_at(post, author, base + Duration::seconds(i / 3))
                    .await,
            );
            app.seed_comment(other_post, alice).await;
        }

        for limit in [1, 5, 20, 100] {
            let ids = app
                .collect_ids(&format!("/api/v1/posts/{post}/comments?limit={limit}"))
                .await;
            assert_eq!(ids, expected, "limit={limit}");
        }
        let res = app
            .get(&format!("/api/v1/posts/{post}/comments?count=true"), None)
            .await;
        assert_eq!(res.body["total"], 27);
        assert_eq!(res.body["items"].as_array().unwrap().len(), 20);

        // Comments written meanwhile come after the cursor (oldest first): they are served
        // once, at the end, and every earlier comment exactly once.
        let first = app
            .get(&format!("/api/v1/posts/{post}/comments?limit=10"), None)
            .await;
        let mut seen: Vec<i64> = first.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        let fresh = app.seed_comment(post, bob).await;
        let cursor = first.body["next_cursor"].as_str().map(str::to_string);
        seen.extend(
            app.collect_ids_after(&format!("/api/v1/posts/{post}/comments?limit=10"), cursor)
                .await,
        );
        let mut all = expected.clone();
        all.push(fresh);
        assert_eq!(seen, all);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

        app.get(&format!("/api/v1/posts/{post}/comments?limit=101"), None)
            .await
            .assert_problem(400, "invalid_query");
        app.get(&format!("/api/v1/posts/{post}/comments?cursor=%%%"), None)
            .await
            .assert_problem(400, "invalid_cursor");
        app.get(&format!("/api/v1/posts/{post}/comments?cursor=abc"), None)
            .await
            .assert_problem(400, "invalid_cursor");
    }
);

db_test!(a_users_comments_are_listed_across_posts, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let p1 = app.seed_post(alice, "p1").await;
    let p2 = app.seed_post(bob, "p2").await;
    let base = relata::time::now() - Duration::hours(1);
    let mut expected = Vec::new();
    for i in 0..25 {
        let post = if i % 2 == 0 { p1 } else { p2 };
        expected.push(
            app.seed_comment_at(post, bob, base + Duration::seconds(i / 5))
                .await,
        );
        app.seed_comment(p1, alice).await;
    }

    let ids = app
        .collect_ids(&format!("/api/v1/users/{bob}/comments?limit=6"))
        .await;
    assert_eq!(ids, expected);
    let res = app
        .get(
            &format!("/api/v1/users/{bob}/comments?count=true&limit=1"),
            None,
        )
        .await;
    assert_eq!(res.body["total"], 25);
    assert_eq!(res.body["items"][0]["author_id"], bob);
});

db_test!(
    comments_include_their_author_and_post_within_the_budget,
    |app| {
        let (alice, alice_token) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        let post = app.seed_post(alice, "Alice's post").await;
        let base = relata::time::now() - Duration::hours(1);
        for i in 0..120 {
            app.seed_comment_at(
                post,
                if i % 2 == 0 { bob } else { alice },
                base + Duration::seconds(i),
            )
            .await;
        }
        let query = "include=author,post.author&count=true";

        let res = app
            .get(
                &format!("/api/v1/posts/{post}/comments?limit=2&{query}"),
                None,
            )
            .await;
        res.assert_status(200);
        let first = &res.body["items"][0];
        assert_eq!(first["author"]["username"], "bob");
        assert_eq!(first["post"]["title"], "Alice's post");
        assert_eq!(first["post"]["author"]["username"], "alice");

        for token in [None, Some(alice_token.as_str())] {
            for path in [
                format!("/api/v1/posts/{post}/comments"),
                format!("/api/v1/users/{bob}/comments"),
            ] {
                let small = app.get(&format!("{path}?limit=1&{query}"), token).await;
                let large = app.get(&format!("{path}?limit=100&{query}"), token).await;
                small.assert_status(200);
                large.assert_status(200);
                let full = if path.contains("/users/") { 60 } else { 100 };
                assert_eq!(large.body["items"].as_array().unwrap().len(), full);
                assert_eq!(small.query_count(), large.query_count(), "{path}");
                // 1 parent check + 1 page + 3 relations in 2 statements (the post's
                // author is joined to the post) + 1 total (+1 token).
                assert_eq!(
                    large.query_count(),
                    5 + usize::from(token.is_some()),
                    "{path}"
                );
            }
        }
        let id = res.body["items"][1]["id"].as_i64().unwrap();
        let one = app
            .get(
                &format!("/api/v1/comments/{id}?include=post.author,author"),
                None,
            )
            .await;
        one.assert_status(200);
        assert_eq!(one.body["author"]["id"], alice);
        assert_eq!(one.body["post"]["author"]["id"], alice);
        // The comment with its post and the post's author joined into one statement;
        // its author (`users` once more, which one statement names once) in a second.
        assert_eq!(one.query_count(), 2);
        app.get(&format!("/api/v1/comments/{id}?include=comments"), None)
            .await
            .assert_problem(400, "invalid_include");
        app.get(&format!("/api/v1/comments/{id}?counts=comments"), None)
            .await
            .assert_problem(400, "invalid_counts");
    }
);
