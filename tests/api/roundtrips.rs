//! Issue 25, "Round trips on PostgreSQL": the exact statements of the reads the bench
//! measures (C1–C6 on the Conduit face, a `viewer=true` list on `/api/v1`), counted by
//! `X-Query-Count` on both databases, with the viewer's marks read where they are loaded
//! rather than after; and a token that no longer works is 401 on a GET whose token check
//! goes in one flight with the handler's reads, before anything the handler read.

use reqwest::Method;
use serde_json::json;

use crate::conduit::{assert_error, get, post, register, write};
use crate::db_test;
use crate::helpers::{Backend, TestApp};

/// `X-Query-Count` of a GET that answers 200, and its body.
async fn counted(app: &TestApp, path: &str, token: Option<&str>) -> (usize, serde_json::Value) {
    // `/api/v1` takes `Bearer`, the Conduit face `Token`.
    let res = match path.starts_with("/api/v1/") {
        true => app.get(path, token).await,
        false => get(app, path, token).await,
    };
    res.assert_status(200);
    (res.query_count(), res.body)
}

db_test!(the_bench_reads_take_these_statements, |app| {
    let reader = register(&app, "reader").await;
    let writer = register(&app, "writer").await;
    let slug = write(&app, &writer, "Read me", &["rust"]).await;
    post(
        &app,
        "/api/profiles/writer/follow",
        Some(&reader),
        json!({}),
    )
    .await
    .assert_status(200);
    post(
        &app,
        &format!("/api/articles/{slug}/favorite"),
        Some(&reader),
        json!({}),
    )
    .await
    .assert_status(200);
    post(
        &app,
        &format!("/api/articles/{slug}/comments"),
        Some(&writer),
        json!({"comment": {"body": "first"}}),
    )
    .await
    .assert_status(201);

    // C1: the count and the page, then the authors (with profiles), tags and favorite
    // counts; a token adds its check and the page's `favorited` (`following` comes with
    // the authors).
    let (n, _) = counted(&app, "/api/articles", None).await;
    assert_eq!(n, 5, "C1 anonymous");
    let (n, list) = counted(&app, "/api/articles", Some(&reader)).await;
    assert_eq!(n, 7, "C1 with a token");
    assert_eq!(list["articles"][0]["favorited"], true);
    assert_eq!(list["articles"][0]["author"]["following"], true);
    // C2: the same with a token.
    let (n, feed) = counted(&app, "/api/articles/feed", Some(&reader)).await;
    assert_eq!(n, 7, "C2");
    assert_eq!(feed["articles"][0]["author"]["following"], true);
    // C3, one flight: the token; the article with its author, the author's profile,
    // the favorite count and the marks (`favorited`, `following`) joined into its own
    // statement; its tags (which a join would repeat the row for), keyed by the slug.
    let path = format!("/api/articles/{slug}");
    let (n, article) = counted(&app, &path, Some(&reader)).await;
    assert_eq!(n, 3, "C3");
    assert_eq!(article["article"]["favorited"], true);
    assert_eq!(article["article"]["favoritesCount"], 1);
    assert_eq!(article["article"]["author"]["following"], true);
    let (n, article) = counted(&app, &path, Some(&writer)).await;
    assert_eq!(n, 3, "C3 by someone who follows nobody");
    assert_eq!(article["article"]["favorited"], false);
    assert_eq!(article["article"]["author"]["following"], false);
    assert_eq!(counted(&app, &path, None).await.0, 2, "C3 anonymous");
    // C4: the article and its comments (keyed by the slug: one flight with the token
    // check), then their authors; a token adds only its check.
    let comments = format!("/api/articles/{slug}/comments");
    assert_eq!(counted(&app, &comments, None).await.0, 3, "C4");
    let (n, seen) = counted(&app, &comments, Some(&reader)).await;
    assert_eq!(n, 4, "C4 with a token");
    assert_eq!(seen["comments"][0]["author"]["following"], true);
    // C5: the token, and the user with profile and `following` in one statement.
    let (n, profile) = counted(&app, "/api/profiles/writer", Some(&reader)).await;
    assert_eq!(n, 2, "C5");
    assert_eq!(profile["profile"]["following"], true);
    let (n, profile) = counted(&app, "/api/profiles/reader", Some(&writer)).await;
    assert_eq!(n, 2, "C5, not followed");
    assert_eq!(profile["profile"]["following"], false);
    assert_eq!(counted(&app, "/api/profiles/writer", None).await.0, 1);
    // C6.
    assert_eq!(counted(&app, "/api/tags", Some(&reader)).await.0, 1, "C6");

    // `/api/v1`, `viewer=true`: the token, the page, the authors with their `following`,
    // and the page's `favorited`.
    let v1_reader = app.login("reader").await;
    let (n, page) = counted(
        &app,
        "/api/v1/posts?include=author&viewer=true",
        Some(&v1_reader),
    )
    .await;
    assert_eq!(n, 4, "v1 posts with authors, viewer=true");
    assert_eq!(page["items"][0]["favorited"], true);
    assert_eq!(page["items"][0]["author"]["following"], true);
    // A comment, its post and the post's author come in one statement, all marked there.
    let comment_id = get(&app, "/api/v1/posts?include=comments", None).await.body["items"][0]
        ["comments"][0]["id"]
        .as_i64()
        .unwrap();
    let (n, comment) = counted(
        &app,
        &format!("/api/v1/comments/{comment_id}?include=post.author&viewer=true"),
        Some(&v1_reader),
    )
    .await;
    assert_eq!(n, 2, "v1 comment with its post and author, viewer=true");
    assert_eq!(comment["post"]["favorited"], true);
    assert_eq!(comment["post"]["author"]["following"], true);
    // One post with everything to-one about it, its count and its marks: the token, and
    // one statement.
    let post_id = page["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/posts/{post_id}?include=author.profile&counts=favorites");
    let (n, one) = counted(&app, &format!("{path}&viewer=true"), Some(&v1_reader)).await;
    assert_eq!(n, 2, "v1 post with author and profile, counts, viewer=true");
    assert_eq!(one["favorited"], true);
    assert_eq!(one["counts"]["favorites"], 1);
    assert_eq!(one["author"]["following"], true);
    assert_eq!(one["author"]["username"], "writer");
    assert!(one["author"]["profile"].is_null());
    // A list of follows (the token, the user, the page): its users are the page's own,
    // marked in one statement.
    let writer_id = page["items"][0]["author"]["id"].as_i64().unwrap();
    let (n, followers) = counted(
        &app,
        &format!("/api/v1/users/{writer_id}/followers?viewer=true"),
        Some(&v1_reader),
    )
    .await;
    assert_eq!(n, 4, "v1 followers, viewer=true");
    assert_eq!(followers["items"][0]["user"]["username"], "reader");
    assert_eq!(followers["items"][0]["user"]["following"], false);
});

db_test!(
    a_revoked_token_is_401_on_every_get_even_where_nothing_is_found,
    |app| {
        let writer = register(&app, "writer").await;
        let slug = write(&app, &writer, "Read me", &[]).await;
        app.register("reader").await;
        let token = app.login("reader").await;
        get(&app, &format!("/api/articles/{slug}"), Some(&token))
            .await
            .assert_status(200);
        app.request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
            .await
            .assert_status(204);
        for path in [
            format!("/api/articles/{slug}"),
            format!("/api/articles/{slug}/comments"),
            "/api/articles".to_string(),
            "/api/articles/feed".to_string(),
            "/api/profiles/writer".to_string(),
            // 401 wins over 404, and over a refused query.
            "/api/articles?limit=0".to_string(),
            "/api/articles/feed?offset=-1".to_string(),
            "/api/articles/no-such-slug".to_string(),
            "/api/articles/no-such-slug/comments".to_string(),
            "/api/profiles/nobody".to_string(),
        ] {
            let res = get(&app, &path, Some(&token)).await;
            assert_eq!(res.status, 401, "{path}: {}", res.body);
            assert!(
                res.body["errors"]["token"].is_array(),
                "{path}: {}",
                res.body
            );
        }
        for path in ["/api/v1/posts?viewer=true", "/api/v1/posts/999999"] {
            app.get(path, Some(&token))
                .await
                .assert_problem(401, "invalid_token");
        }
        assert_error(
            &get(&app, "/api/articles/no-such-slug", None).await,
            404,
            "article",
            "not found",
        );
    }
);

// The Conduit face's writes of an article and of a comment. An article: on PostgreSQL
// one statement (the token check, the caller's profile and the write, tags included); on
// SQLite the check and the profile, then the write. A comment: the check, the caller's
// profile and the article in one flight, then the write. The answer is made from them,
// without a read after, and equals what a later read shows.
db_test!(
    a_new_article_or_comment_is_answered_without_reading_it_back,
    |app| {
        let create_tagged = match app.backend {
            Backend::Postgres => 1,
            Backend::Sqlite => 2 + 3,
        };
        let token = register(&app, "author").await;
        crate::conduit::put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"bio": "Writes", "image": "https://img.example/a.png"}}),
        )
        .await
        .assert_status(200);
        let article = post(
            &app,
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "T", "description": "d", "body": "b", "tagList": ["sql", "new", "rust"]}}),
        )
        .await;
        article.assert_status(201);
        assert_eq!(article.query_count(), create_tagged);
        let slug = article.body["article"]["slug"].as_str().unwrap();
        let read = get(&app, &format!("/api/articles/{slug}"), Some(&token)).await;
        assert_eq!(article.body, read.body);
        assert_eq!(article.body["article"]["author"]["bio"], "Writes");
        assert_eq!(
            article.body["article"]["tagList"],
            json!(["sql", "new", "rust"])
        );

        let comments = format!("/api/articles/{slug}/comments");
        let comment = post(
            &app,
            &comments,
            Some(&token),
            json!({"comment": {"body": "First"}}),
        )
        .await;
        comment.assert_status(201);
        let create_comment = match app.backend {
            Backend::Postgres => 1,
            Backend::Sqlite => 3 + 1,
        };
        assert_eq!(comment.query_count(), create_comment);
        let list = get(&app, &comments, Some(&token)).await;
        assert_eq!(list.body["comments"][0], comment.body["comment"]);
        assert_eq!(
            comment.body["comment"]["author"]["image"],
            "https://img.example/a.png"
        );

        // A token that no longer works is 401 before the missing article and the blank
        // body, and writes nothing.
        app.register("reader").await;
        let ended = app.login("reader").await;
        app.request(Method::POST, "/api/v1/auth/logout", Some(&ended), None)
            .await
            .assert_status(204);
        for (path, body) in [
            (
                "/api/articles/no-such-slug/comments".to_string(),
                json!({"comment": {"body": "x"}}),
            ),
            (comments.clone(), json!({"comment": {"body": ""}})),
            (comments.clone(), json!({"comment": {"body": "late"}})),
            (
                "/api/articles".to_string(),
                json!({"article": {"title": "late"}}),
            ),
        ] {
            let res = post(&app, &path, Some(&ended), body).await;
            assert_eq!(res.status, 401, "{path}: {}", res.body);
        }
        assert_eq!(
            get(&app, &comments, None).await.body["comments"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            get(&app, "/api/articles", None).await.body["articlesCount"],
            1
        );
    }
);

// A new article's or comment's token is checked with its write (on PostgreSQL inside the
// write's own statement): a token ended by logout, by a password change made with another
// token, or by the account's deactivation writes nothing, neither the article nor its new
// tags nor a comment; the token that changed the password, whose user's session epoch is
// new, still writes.
db_test!(
    an_article_or_comment_is_written_only_for_a_token_that_still_works,
    |app| {
        let article = |title: &str| json!({"article": {"title": title, "description": "d", "body": "b", "tagList": [format!("tag-{title}")]}});
        let login = || async {
            let res = post(
                &app,
                "/api/users/login",
                None,
                json!({"user": {"email": "author@example.com", "password": "password123"}}),
            )
            .await;
            res.assert_status(200);
            res.body["user"]["token"].as_str().unwrap().to_string()
        };
        let first = register(&app, "author").await;
        let second = login().await;
        let changed = crate::conduit::put(
            &app,
            "/api/user",
            Some(&first),
            json!({"user": {"password": "a-new-password"}}),
        )
        .await;
        changed.assert_status(200);
        let ended_by_password = post(&app, "/api/articles", Some(&second), article("late")).await;
        assert_eq!(ended_by_password.status, 401, "{}", ended_by_password.body);
        post(&app, "/api/articles", Some(&first), article("kept"))
            .await
            .assert_status(201);

        app.register("other").await;
        let ended = app.login("other").await;
        app.request(Method::POST, "/api/v1/auth/logout", Some(&ended), None)
            .await
            .assert_status(204);
        let res = post(&app, "/api/articles", Some(&ended), article("revoked")).await;
        assert_eq!(res.status, 401, "{}", res.body);

        let disabled = register(&app, "disabled").await;
        let db = app.raw_db().await;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        relata::entity::user::Entity::update_many()
            .col_expr(relata::entity::user::Column::IsActive, Expr::val(false))
            .filter(relata::entity::user::Column::Username.eq("disabled"))
            .exec(&db)
            .await
            .unwrap();
        let res = post(&app, "/api/articles", Some(&disabled), article("disabled")).await;
        assert_eq!(res.status, 401, "{}", res.body);

        // A token whose user is gone: the check's statement finds no row.
        let gone = register(&app, "gone").await;
        relata::entity::user::Entity::delete_many()
            .filter(relata::entity::user::Column::Username.eq("gone"))
            .exec(&db)
            .await
            .unwrap();
        let res = post(&app, "/api/articles", Some(&gone), article("gone")).await;
        assert_eq!(res.status, 401, "{}", res.body);

        // So too a comment, where the article is missing and where the body is blank: the
        // token's 401 wins, then the article's 404, then the body's 422.
        let kept = listed_slug(&app).await;
        let on_kept = format!("/api/articles/{kept}/comments");
        for token in [&second, &ended, &disabled, &gone] {
            for (path, text) in [
                (on_kept.as_str(), "late"),
                (on_kept.as_str(), ""),
                ("/api/articles/no-such-article/comments", "late"),
                ("/api/articles/no%00such/comments", "late"),
            ] {
                let res = post(&app, path, Some(token), json!({"comment": {"body": text}})).await;
                assert_eq!(res.status, 401, "{path}: {}", res.body);
            }
        }
        for path in [
            "/api/articles/no-such-article/comments",
            "/api/articles/no%00such/comments",
        ] {
            let res = post(&app, path, Some(&first), json!({"comment": {"body": ""}})).await;
            assert_error(&res, 404, "article", "not found");
        }
        let res = post(
            &app,
            &on_kept,
            Some(&first),
            json!({"comment": {"body": ""}}),
        )
        .await;
        assert_error(&res, 422, "body", "can't be blank");
        let res = post(
            &app,
            &on_kept,
            Some(&first),
            json!({"comment": {"body": "kept"}}),
        )
        .await;
        res.assert_status(201);
        assert_eq!(res.body["comment"]["author"]["username"], "author");
        assert_eq!(
            get(&app, &on_kept, None).await.body["comments"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let listed = get(&app, "/api/articles", None).await;
        assert_eq!(listed.body["articlesCount"], 1, "{}", listed.body);
        assert_eq!(listed.body["articles"][0]["title"], "kept");
        assert_eq!(
            get(&app, "/api/tags", None).await.body["tags"],
            json!(["tag-kept"])
        );
    }
);

/// The slug of the newest article.
async fn listed_slug(app: &TestApp) -> String {
    get(app, "/api/articles?limit=1", None).await.body["articles"][0]["slug"]
        .as_str()
        .expect("an article")
        .to_string()
}

// `POST /api/v1/posts` checks its token with the write too (on PostgreSQL inside the
// write's statement): a logged-out token is 401, with `WWW-Authenticate`, whatever the
// body (a refused one, one not sent as JSON) and writes nothing; a working one writes.
db_test!(
    a_v1_post_is_written_only_for_a_token_that_still_works,
    |app| {
        let (_, token) = app.user("ann").await;
        let ended = app.login("ann").await;
        app.request(Method::POST, "/api/v1/auth/logout", Some(&ended), None)
            .await
            .assert_status(204);
        let good = json!({"title": "Late", "content": "x", "tags": ["late-tag"]});
        for body in [good.clone(), json!({"content": "no title"}), json!([1])] {
            let res = app.post("/api/v1/posts", Some(&ended), body).await;
            assert_eq!(res.status, 401, "{}", res.body);
            assert!(res.header("www-authenticate").is_some());
        }
        let not_json = app
            .client
            .post(app.url("/api/v1/posts"))
            .bearer_auth(&ended)
            .header("content-type", "text/plain")
            .body("title=Late")
            .send()
            .await
            .expect("the server answers");
        assert_eq!(not_json.status(), 401);
        app.post("/api/v1/posts", Some(&token), good)
            .await
            .assert_status(201);
        let posts = app.get("/api/v1/posts?include=tags", None).await;
        let items = posts.body["items"].as_array().expect("a page");
        assert_eq!(items.len(), 1, "{}", posts.body);
        assert_eq!(
            get(&app, "/api/tags", None).await.body["tags"],
            json!(["late-tag"])
        );
    }
);
