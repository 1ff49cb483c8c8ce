//! The Conduit face and `/api/v1` over one database: a whole visit read back through
//! both, users and posts crossing from one face to the other, the query budget of every
//! `/api` list, CORS for a front-end on another origin, and the face's settings.

use relata::config::Settings;
use reqwest::Method;
use serde_json::json;

use crate::conduit::{assert_error, delete, get, post, put, register, write};
use crate::db_test;

db_test!(
    a_whole_visit_as_a_front_end_plays_it_seen_through_both_faces,
    |app| {
        // Register and log in.
        register(&app, "jake").await;
        let login = post(
            &app,
            "/api/users/login",
            None,
            json!({"user": {"email": "jake@example.com", "password": "password123"}}),
        )
        .await;
        login.assert_status(200);
        let jake = login.body["user"]["token"].as_str().unwrap().to_string();
        let v1_jake = app.login("jake").await;
        let me = app.get("/api/v1/auth/me", Some(&v1_jake)).await;
        me.assert_status(200);
        let jake_id = me.body["id"].as_i64().unwrap();

        // Bio and image: the profile's bio and avatar_url.
        put(
            &app,
            "/api/user",
            Some(&jake),
            json!({"user": {"bio": "dragon rider", "image": "https://example.com/j.png"}}),
        )
        .await
        .assert_status(200);
        let profile = app
            .get(&format!("/api/v1/users/{jake_id}/profile"), None)
            .await;
        profile.assert_status(200);
        assert_eq!(profile.body["bio"], "dragon rider");
        assert_eq!(profile.body["avatar_url"], "https://example.com/j.png");

        // Follow.
        let celeb = register(&app, "celeb").await;
        let celeb_id = app.get("/api/v1/users?q=celeb", None).await.body["items"][0]["id"]
            .as_i64()
            .unwrap();
        post(&app, "/api/profiles/celeb/follow", Some(&jake), json!({}))
            .await
            .assert_status(200);
        let following = app
            .get(&format!("/api/v1/users/{jake_id}/following"), None)
            .await;
        assert_eq!(following.body["items"][0]["user"]["id"], celeb_id);

        // An article with tags, by the one followed.
        let slug = write(&app, &celeb, "Dragons", &["dragons", "flight"]).await;
        let posts = app.get("/api/v1/posts", None).await;
        let v1_post = &posts.body["items"][0];
        assert_eq!(v1_post["slug"], slug.as_str());
        assert_eq!(v1_post["content"], "the body");
        let post_id = v1_post["id"].as_i64().unwrap();
        for tag in ["dragons", "flight"] {
            let tagged = app.get(&format!("/api/v1/tags/{tag}/posts"), None).await;
            assert_eq!(tagged.body["items"][0]["id"], post_id, "{tag}");
        }

        // Comment.
        post(
            &app,
            &format!("/api/articles/{slug}/comments"),
            Some(&jake),
            json!({"comment": {"body": "nice"}}),
        )
        .await
        .assert_status(201);
        let comments = app
            .get(&format!("/api/v1/posts/{post_id}/comments"), None)
            .await;
        assert_eq!(comments.body["items"][0]["body"], "nice");
        assert_eq!(comments.body["items"][0]["author_id"], jake_id);

        // Favorite.
        post(
            &app,
            &format!("/api/articles/{slug}/favorite"),
            Some(&jake),
            json!({}),
        )
        .await
        .assert_status(200);
        let favorites = app
            .get(&format!("/api/v1/posts/{post_id}/favorites"), None)
            .await;
        assert_eq!(favorites.body["items"][0]["user"]["id"], jake_id);

        // The feed and the tag list.
        let feed = get(&app, "/api/articles/feed", Some(&jake)).await;
        feed.assert_status(200);
        assert_eq!(feed.body["articlesCount"], 1);
        assert_eq!(feed.body["articles"][0]["favorited"], true);
        assert_eq!(feed.body["articles"][0]["author"]["following"], true);
        let v1_feed = app.get("/api/v1/feed", Some(&v1_jake)).await;
        assert_eq!(v1_feed.body["items"][0]["id"], post_id);
        let tags = get(&app, "/api/tags", None).await;
        assert_eq!(tags.body["tags"], json!(["dragons", "flight"]));
        let v1_tags = app.get("/api/v1/tags", None).await;
        assert_eq!(v1_tags.body["items"].as_array().unwrap().len(), 2);

        // Edit.
        put(
            &app,
            &format!("/api/articles/{slug}"),
            Some(&celeb),
            json!({"article": {"body": "new body", "tagList": ["flight"]}}),
        )
        .await
        .assert_status(200);
        let edited = app.get(&format!("/api/v1/posts/{post_id}"), None).await;
        assert_eq!(edited.body["content"], "new body");
        let untagged = app.get("/api/v1/tags/dragons/posts", None).await;
        assert_eq!(untagged.body["items"], json!([]));

        // Delete.
        delete(&app, &format!("/api/articles/{slug}"), Some(&celeb))
            .await
            .assert_status(204);
        app.get(&format!("/api/v1/posts/{post_id}"), None)
            .await
            .assert_status(404);
        assert_eq!(
            get(&app, "/api/articles/feed", Some(&jake)).await.body["articlesCount"],
            0
        );
    }
);

db_test!(users_and_posts_cross_from_one_face_to_the_other, |app| {
    // A user from /api/v1 logs in at /api.
    let (v1_id, v1_token) = app.user("veevee").await;
    let login = post(
        &app,
        "/api/users/login",
        None,
        json!({"user": {"email": "veevee@example.com", "password": "password123"}}),
    )
    .await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["username"], "veevee");
    // /api/v1 access tokens work at /api too…
    assert_eq!(
        get(&app, "/api/user", Some(&v1_token)).await.body["user"]["username"],
        "veevee"
    );
    // …while a Conduit token is refused by /api/v1.
    let conduit_token = login.body["user"]["token"].as_str().unwrap().to_string();
    app.get("/api/v1/auth/me", Some(&conduit_token))
        .await
        .assert_problem(401, "invalid_token");

    // A user from /api logs in at /api/v1.
    register(&app, "conduit_user").await;
    app.login("conduit_user").await;

    // A post from /api/v1 is an article with a slug (and an empty description).
    let created = app
        .post(
            "/api/v1/posts",
            Some(&v1_token),
            json!({"title": "From v1", "content": "text"}),
        )
        .await;
    created.assert_status(201);
    let slug = created.body["slug"].as_str().unwrap().to_string();
    let article = get(&app, &format!("/api/articles/{slug}"), None).await;
    article.assert_status(200);
    assert_eq!(article.body["article"]["title"], "From v1");
    assert_eq!(article.body["article"]["body"], "text");
    assert_eq!(article.body["article"]["description"], "");
    assert_eq!(article.body["article"]["author"]["username"], "veevee");
    // A front-end sends the whole article back: the empty description is accepted.
    let mut back = article.body["article"].clone();
    back["title"] = json!("From v1, edited");
    put(
        &app,
        &format!("/api/articles/{slug}"),
        Some(&conduit_token),
        json!({"article": back}),
    )
    .await
    .assert_status(200);

    // Deleting the user through /api/v1 removes their articles from /api lists.
    write(&app, &conduit_token, "Second", &["gone"]).await;
    assert_eq!(
        get(&app, "/api/articles", None).await.body["articlesCount"],
        2
    );
    app.delete(&format!("/api/v1/users/{v1_id}"), Some(&v1_token))
        .await
        .assert_status(204);
    assert_eq!(
        get(&app, "/api/articles", None).await.body,
        json!({"articles": [], "articlesCount": 0})
    );
    assert_eq!(get(&app, "/api/tags", None).await.body, json!({"tags": []}));
    assert_error(
        &get(&app, "/api/profiles/veevee", None).await,
        404,
        "profile",
        "not found",
    );
});

/// `X-Query-Count` of a GET.
async fn count(app: &crate::helpers::TestApp, path: &str, token: Option<&str>) -> usize {
    let res = get(app, path, token).await;
    res.assert_status(200);
    res.query_count()
}

db_test!(every_list_reads_in_a_constant_number_of_statements, |app| {
    // Strict budget is on in tests: a read over its budget would be a 500 here.
    assert!(app.state.settings.strict_budget);
    let reader = register(&app, "reader").await;
    let writers: Vec<String> = {
        let mut tokens = Vec::new();
        for i in 0..3 {
            tokens.push(register(&app, &format!("writer{i}")).await);
        }
        tokens
    };
    // 105 articles by three authors, each tagged, favorited by the reader, authors followed.
    let at = relata::time::now();
    for i in 0..writers.len() {
        post(
            &app,
            &format!("/api/profiles/writer{i}/follow"),
            Some(&reader),
            json!({}),
        )
        .await
        .assert_status(200);
        let user_id = app
            .get(&format!("/api/v1/users?q=writer{i}"), None)
            .await
            .body["items"][0]["id"]
            .as_i64()
            .unwrap();
        app.seed_posts_bulk(user_id, 35, at).await;
    }
    let db = app.raw_db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let reader_id = app.get("/api/v1/users?q=reader", None).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let now = if backend == sea_orm::DbBackend::Postgres {
        "now()"
    } else {
        "CURRENT_TIMESTAMP"
    };
    for sql in [
        format!("INSERT INTO tags (name, created_at) VALUES ('bulk', {now})"),
        "INSERT INTO post_tags (post_id, tag_id, position) SELECT id, (SELECT id FROM tags WHERE name = 'bulk'), 0 FROM posts".to_string(),
        format!(
            "INSERT INTO favorites (user_id, post_id, created_at) SELECT {reader_id}, id, {now} FROM posts"
        ),
    ] {
        db.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    }
    let slug = get(&app, "/api/articles?limit=1", None).await.body["articles"][0]["slug"]
        .as_str()
        .unwrap()
        .to_string();
    for writer in &writers {
        post(
            &app,
            &format!("/api/articles/{slug}/comments"),
            Some(writer),
            json!({"comment": {"body": "c"}}),
        )
        .await
        .assert_status(201);
    }

    for token in [None, Some(reader.as_str())] {
        for filter in ["", "&tag=bulk", "&author=writer1", "&favorited=reader"] {
            let small = count(&app, &format!("/api/articles?limit=1{filter}"), token).await;
            let full = get(&app, &format!("/api/articles?limit=100{filter}"), token).await;
            full.assert_status(200);
            let expected = if filter == "&author=writer1" { 35 } else { 100 };
            assert_eq!(
                full.body["articles"].as_array().unwrap().len(),
                expected,
                "{filter}"
            );
            assert_eq!(
                full.query_count(),
                small,
                "articles{filter}, token {}",
                token.is_some()
            );
        }
        let one = count(&app, &format!("/api/articles/{slug}"), token).await;
        assert!(one <= 7, "{one}");
        let comments_few = count(&app, &format!("/api/articles/{slug}/comments"), token).await;
        for writer in &writers {
            post(
                &app,
                &format!("/api/articles/{slug}/comments"),
                Some(writer),
                json!({"comment": {"body": "more"}}),
            )
            .await
            .assert_status(201);
        }
        let comments_more = count(&app, &format!("/api/articles/{slug}/comments"), token).await;
        assert_eq!(comments_few, comments_more);
        assert_eq!(count(&app, "/api/tags", token).await, 1);
        assert!(count(&app, "/api/profiles/writer0", token).await <= 3);
    }
    let small = count(&app, "/api/articles/feed?limit=1", Some(&reader)).await;
    let full = get(&app, "/api/articles/feed?limit=100", Some(&reader)).await;
    assert_eq!(full.body["articles"].as_array().unwrap().len(), 100);
    assert_eq!(full.body["articlesCount"], 105);
    assert_eq!(full.query_count(), small);
    assert_eq!(full.body["articles"][0]["favorited"], true);
    assert_eq!(full.body["articles"][0]["author"]["following"], true);
    assert_eq!(full.body["articles"][0]["tagList"], json!(["bulk"]));
    assert_eq!(full.body["articles"][0]["favoritesCount"], 1);
});

db_test!(
    a_front_end_on_another_origin_passes_the_preflight,
    settings = |s: &mut Settings| s.cors_origins = vec!["http://front.example".to_string()],
    |app| {
        for (path, method) in [
            ("/api/articles", "POST"),
            ("/api/user", "PUT"),
            ("/api/articles/some-slug", "DELETE"),
            ("/api/articles/feed", "GET"),
        ] {
            let res = app
                .client
                .request(Method::OPTIONS, app.url(path))
                .header("origin", "http://front.example")
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let h = res.headers();
            assert_eq!(h["access-control-allow-origin"], "http://front.example");
            let methods = h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .to_uppercase();
            assert!(methods.contains(method), "{methods}");
            let headers = h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .to_lowercase();
            assert!(
                headers.contains("authorization") && headers.contains("content-type"),
                "{headers}"
            );
        }
        // The actual request carries the origin too.
        let res = app
            .client
            .get(app.url("/api/tags"))
            .header("origin", "http://front.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "http://front.example"
        );
        // Another origin is not allowed.
        let res = app
            .client
            .get(app.url("/api/tags"))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
);

db_test!(
    a_star_lets_any_origin_in,
    settings = |s: &mut Settings| s.cors_origins = vec!["*".to_string()],
    |app| {
        let res = app
            .client
            .request(Method::OPTIONS, app.url("/api/articles"))
            .header("origin", "http://anywhere.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
    }
);

db_test!(
    the_face_can_be_turned_off,
    settings = |s: &mut Settings| s.conduit = false,
    |app| {
        let res = get(&app, "/api/tags", None).await;
        res.assert_status(404);
        assert!(res.body.get("errors").is_none());
        app.get("/api/v1/tags", None).await.assert_status(200);
    }
);

db_test!(
    conduit_tokens_live_as_long_as_the_setting_says,
    settings = |s: &mut Settings| s.conduit_token_ttl = std::time::Duration::from_secs(1),
    |app| {
        let token = register(&app, "jake").await;
        get(&app, "/api/user", Some(&token))
            .await
            .assert_status(200);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let res = get(&app, "/api/user", Some(&token)).await;
        assert_error(&res, 401, "token", "has expired");
        assert_eq!(res.body, json!({"errors": {"token": ["has expired"]}}));
    }
);
