//! Posts through HTTP: creation, reading, editing and deletion with SPEC §3's statuses and
//! their order, the authorization matrix, keyset paging in the default order (newest
//! first), the `author_id` and `q` filters, `/users/{id}/posts`, include/counts within the
//! query budget, and the cascade preview.

use std::collections::HashSet;

use chrono::Duration;
use relata::entity::{comment, post};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::db_test;

db_test!(creating_a_post_answers_201_with_its_location, |app| {
    let (alice, token) = app.seed_user("alice").await;

    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "  Hello  ", "content": "World"}),
        )
        .await;

    res.assert_status(201);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/posts/{id}").as_str())
    );
    assert_eq!(res.body["author_id"], alice);
    assert_eq!(res.body["title"], "Hello", "titles are stored trimmed");
    assert_eq!(res.body["content"], "World");
    assert!(res.body["created_at"].as_str().unwrap().ends_with('Z'));
    let fetched = app.get(&format!("/api/v1/posts/{id}"), None).await;
    fetched.assert_status(200);
    assert_eq!(fetched.body, res.body);
});

db_test!(creating_a_post_checks_the_request_in_spec_order, |app| {
    let (_, token) = app.seed_user("alice").await;

    // 401 before anything else, with the Bearer challenge.
    let res = app
        .send_raw(
            Method::POST,
            "/api/v1/posts",
            Some("text/plain"),
            b"x".to_vec(),
        )
        .await;
    res.assert_problem(401, "missing_token");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    app.post("/api/v1/posts", Some("not-a-jwt"), json!({}))
        .await
        .assert_problem(401, "invalid_token");

    let send = |ct: Option<&'static str>, body: Vec<u8>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/posts"))
            .bearer_auth(&token)
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            (status, body)
        }
    };
    let (status, body) = send(
        Some("text/plain"),
        br#"{"title":"t","content":"c"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, _) = send(None, br#"{"title":"t","content":"c"}"#.to_vec()).await;
    assert_eq!(status, 415);
    let (status, _) = send(Some("application/json"), vec![b' '; 1024 * 1024 + 1]).await;
    assert_eq!(status, 413);
    let (status, body) = send(Some("application/json"), b"{\"title\": ".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json"))
    );

    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "t", "content": "c", "tags": null}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "tags");
});

db_test!(an_invalid_post_names_every_bad_field, |app| {
    let (_, token) = app.seed_user("alice").await;

    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "   ", "content": "x".repeat(100_001)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "content"]);

    let res = app.post("/api/v1/posts", Some(&token), json!({})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(
        res.body["errors"].as_array().unwrap().len(),
        2,
        "{}",
        res.body
    );

    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "t".repeat(201), "content": ""}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "title");

    app.post(
        "/api/v1/posts",
        Some(&token),
        json!({"title": "t".repeat(200), "content": ""}),
    )
    .await
    .assert_status(201);
});

db_test!(reading_a_post_answers_404_or_400_for_bad_ids, |app| {
    app.get("/api/v1/posts/999", None)
        .await
        .assert_problem(404, "not_found");
    for bad in ["abc", "0", "-1", "1.5", "9223372036854775808", "+1"] {
        app.get(&format!("/api/v1/posts/{bad}"), None)
            .await
            .assert_problem(400, "invalid_path");
    }
    app.get("/api/v1/posts/1", Some("garbage"))
        .await
        .assert_problem(401, "invalid_token");
});

db_test!(patching_a_post_changes_only_the_fields_sent, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let id = app
        .seed_post_at(alice, "Old", relata::time::now() - Duration::hours(1))
        .await;
    let before = app.get(&format!("/api/v1/posts/{id}"), None).await.body;

    let res = app
        .patch(
            &format!("/api/v1/posts/{id}"),
            Some(&token),
            json!({"title": " New "}),
        )
        .await;

    res.assert_status(200);
    assert_eq!(res.body["title"], "New");
    assert_eq!(res.body["content"], before["content"]);
    assert_eq!(res.body["created_at"], before["created_at"]);
    assert_ne!(res.body["updated_at"], before["updated_at"]);

    // An empty patch changes nothing, not even updated_at.
    let same = app
        .patch(&format!("/api/v1/posts/{id}"), Some(&token), json!({}))
        .await;
    same.assert_status(200);
    assert_eq!(same.body, res.body);

    // null is not a title.
    let res = app
        .patch(
            &format!("/api/v1/posts/{id}"),
            Some(&token),
            json!({"title": null}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "title");
});

db_test!(patching_a_post_answers_404_then_403_then_422, |app| {
    let cast = app.seed_cast().await;
    let id = app.seed_post(cast.owner.0, "Mine").await;
    let invalid = json!({"title": ""});

    // Absent post: 404 even for a body that is invalid and a caller who could not edit.
    app.patch("/api/v1/posts/999", Some(&cast.other.1), invalid.clone())
        .await
        .assert_problem(404, "not_found");
    // The form of the body comes before the row.
    let res = app
        .client
        .patch(app.url("/api/v1/posts/999"))
        .bearer_auth(&cast.other.1)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // Someone else's post: 403 before the invalid body is looked at.
    app.patch(
        &format!("/api/v1/posts/{id}"),
        Some(&cast.other.1),
        invalid.clone(),
    )
    .await
    .assert_problem(403, "forbidden");
    // The author: now the body is judged.
    app.patch(&format!("/api/v1/posts/{id}"), Some(&cast.owner.1), invalid)
        .await
        .assert_problem(422, "validation_failed");
});

db_test!(who_may_edit_and_delete_a_post, |app| {
    let cast = app.seed_cast().await;
    let actors: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("another user", Some(&cast.other.1)),
        ("the author", Some(&cast.owner.1)),
        ("a moderator", Some(&cast.moderator.1)),
        ("an admin", Some(&cast.admin.1)),
    ];
    let patch_expected = [401, 403, 200, 403, 200];
    let delete_expected = [401, 403, 204, 204, 204];

    for ((who, token), (patch_status, delete_status)) in actors
        .iter()
        .zip(patch_expected.into_iter().zip(delete_expected))
    {
        let id = app.seed_post(cast.owner.0, "target").await;
        let res = app
            .patch(
                &format!("/api/v1/posts/{id}"),
                *token,
                json!({"content": "edited"}),
            )
            .await;
        assert_eq!(
            res.status.as_u16(),
            patch_status,
            "PATCH by {who}: {}",
            res.body
        );
        let res = app
            .delete(&format!("/api/v1/posts/{id}?dry_run=true"), *token)
            .await;
        let preview_status = if delete_status == 204 {
            200
        } else {
            delete_status
        };
        assert_eq!(
            res.status.as_u16(),
            preview_status,
            "dry run by {who}: {}",
            res.body
        );
        let res = app.delete(&format!("/api/v1/posts/{id}"), *token).await;
        assert_eq!(
            res.status.as_u16(),
            delete_status,
            "DELETE by {who}: {}",
            res.body
        );
    }
});

db_test!(deleting_a_post_takes_its_comments_and_nothing_else, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let doomed = app.seed_post(alice, "doomed").await;
    let kept = app.seed_post(alice, "kept").await;
    for _ in 0..3 {
        app.seed_comment(doomed, bob).await;
    }
    let survivor = app.seed_comment(kept, bob).await;

    app.delete(&format!("/api/v1/posts/{doomed}"), Some(&token))
        .await
        .assert_status(204);

    app.get(&format!("/api/v1/posts/{doomed}"), None)
        .await
        .assert_problem(404, "not_found");
    let db = app.state.store.connection();
    let left: Vec<i64> = comment::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, vec![survivor]);
    assert_eq!(post::Entity::find().count(db).await.unwrap(), 1);
    app.delete(&format!("/api/v1/posts/{doomed}"), Some(&token))
        .await
        .assert_problem(404, "not_found");
});

db_test!(
    a_dry_run_shows_what_a_post_delete_would_take_and_changes_nothing,
    |app| {
        let (alice, token) = app.seed_user("alice").await;
        let (bob, bob_token) = app.seed_user("bob").await;
        let id = app.seed_post(alice, "p").await;
        for _ in 0..4 {
            app.seed_comment(id, bob).await;
        }

        let res = app
            .delete(&format!("/api/v1/posts/{id}?dry_run=true"), Some(&token))
            .await;

        res.assert_status(200);
        assert_eq!(
            res.body,
            json!({"delete": {"posts": 1, "comments": 4, "favorites": 0, "post_tags": 0}, "set_null": {}})
        );
        let comments = app
            .get(&format!("/api/v1/posts/{id}/comments?count=true"), None)
            .await;
        assert_eq!(comments.body["total"], 4, "the comments are still there");
        // Same authorization, same 404, and a bad flag is a bad query parameter.
        app.delete(
            &format!("/api/v1/posts/{id}?dry_run=true"),
            Some(&bob_token),
        )
        .await
        .assert_problem(403, "forbidden");
        app.delete("/api/v1/posts/999?dry_run=true", Some(&token))
            .await
            .assert_problem(404, "not_found");
        app.delete(&format!("/api/v1/posts/{id}?dry_run=maybe"), Some(&token))
            .await
            .assert_problem(400, "invalid_query");
        // dry_run=false deletes.
        app.delete(&format!("/api/v1/posts/{id}?dry_run=false"), Some(&token))
            .await
            .assert_status(204);
    }
);

db_test!(
    paging_through_posts_newest_first_has_no_duplicate_and_no_gap,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let base = relata::time::now() - Duration::hours(1);
        // 30 posts over 10 instants, three per instant: ties broken by id.
        let mut expected: Vec<(chrono::DateTime<chrono::Utc>, i64)> = Vec::new();
        for i in 0..30 {
            let at = base + Duration::seconds(i / 3);
            expected.push((at, app.seed_post_at(alice, &format!("p{i}"), at).await));
        }
        expected.sort_by(|a, b| b.cmp(a));
        let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();

        for limit in [1, 7, 10, 30, 100] {
            let ids = app
                .collect_ids(&format!("/api/v1/posts?limit={limit}"))
                .await;
            assert_eq!(ids, expected, "limit={limit}");
        }
        // The default page size is 20; next_cursor is null on the last page; total on demand.
        let first = app.get("/api/v1/posts?count=true", None).await;
        assert_eq!(first.body["items"].as_array().unwrap().len(), 20);
        assert_eq!(first.body["total"], 30);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let last = app
            .get(&format!("/api/v1/posts?cursor={cursor}"), None)
            .await;
        assert_eq!(last.body["items"].as_array().unwrap().len(), 10);
        assert!(last.body["next_cursor"].is_null());
        assert!(last.body.get("total").is_none());
    }
);

db_test!(
    posts_inserted_while_paging_neither_repeat_nor_hide_older_ones,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let base = relata::time::now() - Duration::hours(1);
        let mut existing = HashSet::new();
        for i in 0..25 {
            // Pairs share an instant.
            existing.insert(
                app.seed_post_at(alice, "old", base + Duration::seconds(i / 2))
                    .await,
            );
        }

        let first = app.get("/api/v1/posts?limit=10", None).await;
        let mut seen: Vec<i64> = first.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        // New posts arrive: newer than everything, and one at the very instant of the page's
        // last item (its higher id sorts it before that item, on the page already served).
        let boundary = app
            .get(&format!("/api/v1/posts/{}", seen[9]), None)
            .await
            .body["created_at"]
            .as_str()
            .map(|t| relata::time::parse(t).unwrap())
            .unwrap();
        for _ in 0..5 {
            app.seed_post(alice, "new").await;
        }
        app.seed_post_at(alice, "same instant", boundary).await;
        let cursor = first.body["next_cursor"].as_str().map(str::to_string);
        seen.extend(
            app.collect_ids_after("/api/v1/posts?limit=10", cursor)
                .await,
        );

        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "a post was served twice: {seen:?}"
        );
        assert_eq!(
            unique, existing,
            "every post that existed at the first page, and only those"
        );
    }
);

db_test!(posts_filter_by_author_and_by_title_substring, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let (bob, _) = app.seed_user("bob").await;
    let a1 = app.seed_post(alice, "Rust Tips").await;
    let a2 = app.seed_post(alice, "100% rust_lang").await;
    let b1 = app.seed_post(bob, "Trusty rusting").await;
    let b2 = app.seed_post(bob, "1000 rustXlang").await;
    app.seed_post(bob, "Gardening").await;

    let ids = app
        .collect_ids(&format!("/api/v1/posts?author_id={alice}"))
        .await;
    assert_eq!(ids, vec![a2, a1]);
    // Case-insensitive substring.
    let ids = app.collect_ids("/api/v1/posts?q=RUST").await;
    assert_eq!(ids, vec![b2, b1, a2, a1]);
    // % and _ are literal characters, not wildcards.
    assert_eq!(app.collect_ids("/api/v1/posts?q=100%25").await, vec![a2]);
    assert_eq!(app.collect_ids("/api/v1/posts?q=rust_lang").await, vec![a2]);
    assert_eq!(app.collect_ids("/api/v1/posts?q=%25").await, vec![a2]);
    assert_eq!(app.collect_ids("/api/v1/posts?q=_").await, vec![a2]);
    assert_eq!(
        app.collect_ids("/api/v1/posts?q=%5C").await,
        Vec::<i64>::new()
    );
    // Both filters at once.
    assert_eq!(
        app.collect_ids(&format!("/api/v1/posts?author_id={bob}&q=rust"))
            .await,
        vec![b2, b1]
    );
    app.get("/api/v1/posts?author_id=abc", None)
        .await
        .assert_problem(400, "invalid_query");
});

db_test!(post_lists_answer_400_for_a_bad_limit_or_cursor, |app| {
    for bad in ["limit=0", "limit=101", "limit=abc", "limit=-1", "count=yes"] {
        app.get(&format!("/api/v1/posts?{bad}"), None)
            .await
            .assert_problem(400, "invalid_query");
    }
    for bad in ["cursor=not-a-cursor", "cursor=WzFd", "cursor=WyJ4IiwxXQ"] {
        app.get(&format!("/api/v1/posts?{bad}"), None)
            .await
            .assert_problem(400, "invalid_cursor");
    }
    app.get("/api/v1/posts?include=nope", None)
        .await
        .assert_problem(400, "invalid_include");
});

db_test!(
    a_users_posts_are_filtered_and_paged_in_the_database,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        let base = relata::time::now() - Duration::hours(1);
        let mut expected = Vec::new();
        for i in 0..26 {
            expected.push(
                app.seed_post_at(alice, &format!("Note {i}"), base + Duration::seconds(i / 4))
                    .await,
            );
            app.seed_post(bob, "bob's").await;
        }
        expected.reverse();

        let ids = app
            .collect_ids(&format!("/api/v1/users/{alice}/posts?limit=7"))
            .await;
        assert_eq!(ids, expected);
        let res = app
            .get(
                &format!("/api/v1/users/{alice}/posts?count=true&limit=5"),
                None,
            )
            .await;
        res.assert_status(200);
        assert_eq!(res.body["total"], 26);
        // It takes what /posts takes.
        let ids = app
            .collect_ids(&format!("/api/v1/users/{alice}/posts?q=note 2"))
            .await;
        assert_eq!(ids.len(), 7, "Note 2 and Note 20..25: {ids:?}");
        let ids = app
            .collect_ids(&format!("/api/v1/users/{alice}/posts?author_id={bob}"))
            .await;
        assert!(ids.is_empty());

        app.get("/api/v1/users/999/posts", None)
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/users/abc/posts", None)
            .await
            .assert_problem(400, "invalid_path");
        // A malformed query is 400 even when the user is absent (the request's form first).
        app.get("/api/v1/users/999/posts?limit=0", None)
            .await
            .assert_problem(400, "invalid_query");
    }
);

db_test!(
    posts_include_author_profile_and_comments_with_counts,
    |app| {
        let (alice, alice_token) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        app.put(
            &format!("/api/v1/users/{alice}/profile"),
            Some(&alice_token),
            json!({"bio": "hi"}),
        )
        .await
        .assert_status(201);
        let quiet = app
            .seed_post_at(bob, "quiet", relata::time::now() - Duration::minutes(5))
            .await;
        let busy = app.seed_post(alice, "busy").await;
        let c1 = app.seed_comment(busy, bob).await;
        let c2 = app.seed_comment(busy, alice).await;

        let res = app
            .get(
                "/api/v1/posts?include=author.profile,comments.author&counts=comments",
                None,
            )
            .await;

        res.assert_status(200);
        let items = res.body["items"].as_array().unwrap();
        assert_eq!(items[0]["id"], busy);
        assert_eq!(items[0]["author"]["username"], "alice");
        assert!(
            items[0]["author"].get("email").is_none(),
            "email is private"
        );
        assert_eq!(items[0]["author"]["profile"]["bio"], "hi");
        let comments = items[0]["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 2);
        assert_eq!(
            (comments[0]["id"].as_i64(), comments[1]["id"].as_i64()),
            (Some(c1), Some(c2))
        );
        assert_eq!(comments[0]["author"]["username"], "bob");
        assert!(items[0]["comments_next_cursor"].is_null());
        assert_eq!(items[0]["counts"], json!({"comments": 2}));
        assert_eq!(items[1]["id"], quiet);
        assert!(items[1]["author"]["profile"].is_null());
        assert_eq!(items[1]["comments"], json!([]));
        assert_eq!(items[1]["counts"], json!({"comments": 0}));
        // 1 page + 4 relations in 3 statements (the author's profile is joined to the
        // author) + 1 count.
        assert_eq!(res.query_count(), 5);

        let one = app
            .get(
                &format!(
                    "/api/v1/posts/{busy}?include=author,comments&counts=comments&include_limit=1"
                ),
                None,
            )
            .await;
        one.assert_status(200);
        assert_eq!(one.body["author"]["id"], alice);
        assert_eq!(one.body["comments"].as_array().unwrap().len(), 1);
        // The embedded list was cut: its cursor continues on the relation's own endpoint.
        let cursor = one.body["comments_next_cursor"].as_str().unwrap();
        let rest = app
            .get(
                &format!("/api/v1/posts/{busy}/comments?cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(rest.body["items"][0]["id"], c2);
    }
);

db_test!(
    a_full_page_of_posts_costs_the_same_statements_at_limit_1_and_100,
    |app| {
        let (alice, token) = app.seed_user("alice").await;
        let (bob, _) = app.seed_user("bob").await;
        app.put(
            &format!("/api/v1/users/{alice}/profile"),
            Some(&token),
            json!({"bio": "b"}),
        )
        .await
        .assert_status(201);
        app.seed_posts_bulk(alice, 120, relata::time::now() - Duration::hours(1))
            .await;
        app.seed_posts_bulk(bob, 30, relata::time::now() - Duration::hours(2))
            .await;
        let newest = app.seed_post(alice, "newest").await;
        app.seed_comment(newest, bob).await;

        for token in [None, Some(token.as_str())] {
            let query = "include=author.profile,comments.author&counts=comments&count=true";
            let small = app
                .get(&format!("/api/v1/posts?limit=1&{query}"), token)
                .await;
            let large = app
                .get(&format!("/api/v1/posts?limit=100&{query}"), token)
                .await;
            small.assert_status(200);
            large.assert_status(200);
            assert_eq!(small.body["items"].as_array().unwrap().len(), 1);
            assert_eq!(large.body["items"].as_array().unwrap().len(), 100);
            assert_eq!(small.query_count(), large.query_count());
            // The budget: 2 + token + 4 relations + 1 counts + 1 total.
            assert!(large.query_count() <= 2 + usize::from(token.is_some()) + 4 + 1 + 1);

            let small = app
                .get(
                    &format!("/api/v1/users/{alice}/posts?limit=1&{query}"),
                    token,
                )
                .await;
            let large = app
                .get(
                    &format!("/api/v1/users/{alice}/posts?limit=100&{query}"),
                    token,
                )
                .await;
            small.assert_status(200);
            large.assert_status(200);
            assert_eq!(large.body["items"].as_array().unwrap().len(), 100);
            assert_eq!(small.query_count(), large.query_count());
        }
        let res = app
            .get(
                &format!(
                    "/api/v1/posts/{newest}?include=author.profile,comments.author&counts=comments"
                ),
                None,
            )
            .await;
        res.assert_status(200);
        // The post with its author, the author's profile and the count joined into its
        // own statement; its comments; their authors.
        assert_eq!(res.query_count(), 3);
    }
);

db_test!(deleting_a_post_leaves_no_orphan, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let id = app.seed_post(alice, "p").await;
    app.seed_comment(id, alice).await;
    app.delete(&format!("/api/v1/posts/{id}"), Some(&token))
        .await
        .assert_status(204);
    let orphans = comment::Entity::find()
        .filter(comment::Column::PostId.eq(id))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(orphans, 0);
    assert!(
        relata::ops::check::run(app.state.store.connection())
            .await
            .unwrap()
            .is_clean()
    );
});
