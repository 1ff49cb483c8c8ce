//! API 1.2's bounds on what one request can cost (SPEC §6): the ceiling on the items of one
//! response, a username search that an index serves, names that show what they are, and
//! the Conduit face's refusals of bodies that are not JSON.

use relata::relations::{Resource, valid_paths};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::db_test;
use crate::helpers::TestApp;

/// `users` with `posts` posts each and `comments` comments on each post, all written by
/// the first user; the users' ids.
async fn arrange(app: &TestApp, users: usize, posts: usize, comments: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for u in 0..users {
        ids.push(app.seed_user(&format!("writer{u}")).await.0);
    }
    let db = app.raw_db().await;
    for &author in &ids {
        app.seed_posts_bulk(author, posts, relata::time::now())
            .await;
        let post_ids: Vec<i64> = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT id FROM posts WHERE author_id = {author}"),
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<i64>("", "id").unwrap())
            .collect();
        for post in post_ids {
            for _ in 0..comments {
                crate::helpers::insert_comment(&db, post, ids[0]).await;
            }
        }
    }
    ids
}

db_test!(
    a_response_past_the_item_ceiling_is_400_and_one_within_it_is_200,
    settings = |s| s.max_response_items = 100,
    |app| {
        // 3 users × 4 posts × 6 comments: with their authors, 3 + 12 + 72 + 72 objects.
        arrange(&app, 3, 4, 6).await;
        let big = app
            .get(
                "/api/v1/users?include=posts.comments.author&include_limit=100",
                None,
            )
            .await;
        big.assert_problem(400, "response_too_large");
        let detail = big.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("100") && detail.contains("include_limit"),
            "names the ceiling and what to lower: {detail}"
        );
        // The same request cut to fit: 3 + 12 + 36 + 36 = 87.
        let fits = app
            .get(
                "/api/v1/users?include=posts.comments.author&include_limit=3",
                None,
            )
            .await;
        fits.assert_status(200);
        // Refused or not, the request runs its fixed number of statements.
        assert_eq!(big.query_count(), fits.query_count());
        // Without the authors: 3 + 12 + 72 = 87.
        app.get(
            "/api/v1/users?include=posts.comments&include_limit=100",
            None,
        )
        .await
        .assert_status(200);
    }
);

db_test!(
    the_ceiling_counts_a_child_once_per_parent_that_shows_it,
    settings = |s| s.max_response_items = 50,
    |app| {
        // 1 user, 20 posts with 1 comment each by that user: the comments' author is one
        // row, shown under each of the 20 comments.
        arrange(&app, 1, 20, 1).await;
        // 20 posts + 20 comments = 40.
        app.get("/api/v1/posts?include=comments&include_limit=5", None)
            .await
            .assert_status(200);
        // 20 + 20 + 20 authors = 60 > 50.
        app.get(
            "/api/v1/posts?include=comments.author&include_limit=5",
            None,
        )
        .await
        .assert_problem(400, "response_too_large");
        // 10 posts: 30.
        app.get(
            "/api/v1/posts?limit=10&include=comments.author&include_limit=5",
            None,
        )
        .await
        .assert_status(200);
    }
);

db_test!(
    the_conduit_comment_list_is_bounded_by_the_ceiling_too,
    settings = |s| s.max_response_items = 10,
    |app| {
        let token = crate::conduit::register(&app, "jake").await;
        let slug = crate::conduit::write(&app, &token, "Many comments", &[]).await;
        for i in 0..6 {
            crate::conduit::post(
                &app,
                &format!("/api/articles/{slug}/comments"),
                Some(&token),
                json!({"comment": {"body": format!("comment {i}")}}),
            )
            .await
            .assert_status(201);
        }
        let res = crate::conduit::get(&app, &format!("/api/articles/{slug}/comments"), None).await;
        res.assert_status(400);
        assert!(res.body["errors"]["comments"].is_array(), "{}", res.body);
    }
);

#[test]
fn with_the_default_limits_no_include_tree_can_pass_the_default_ceiling() {
    // Every path of a resource at once, `limit` and `include_limit` at their default of
    // 20: the largest answer the defaults allow. Each to-many step multiplies by 20, a
    // to-one step keeps the count, and tag names are no objects.
    fn largest(resource: Resource) -> u64 {
        let mut total = 20;
        for path in valid_paths(resource) {
            let mut objects = 20u64;
            for step in path.split('.') {
                objects *= match step {
                    "author" | "post" | "profile" | "user" => 1,
                    "tags" => 0,
                    _ => 20,
                };
            }
            total += objects;
        }
        total
    }
    let ceiling = relata::config::Settings::default().max_response_items;
    for resource in [
        Resource::User,
        Resource::Post,
        Resource::Comment,
        Resource::Profile,
        Resource::Role,
    ] {
        assert!(
            largest(resource) <= ceiling,
            "{resource:?}: {} > {ceiling}",
            largest(resource)
        );
    }
}

/// The plan of the username search for `q`, as the database explains it.
async fn search_plan(app: &TestApp, q: &str) -> String {
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    let (explain, sql) = match backend {
        DbBackend::Postgres => {
            // On a small table a sequential scan is cheaper; what matters is that an
            // index can serve the search, so the planner is told to avoid the scan.
            db.execute_unprepared("SET enable_seqscan = off")
                .await
                .unwrap();
            (
                "EXPLAIN",
                r#"SELECT id FROM users WHERE lower(username) COLLATE "C" >= $1 AND lower(username) COLLATE "C" < $2 ORDER BY id LIMIT 21"#,
            )
        }
        _ => (
            "EXPLAIN QUERY PLAN",
            "SELECT id FROM users WHERE lower(username) >= ? AND lower(username) < ? ORDER BY id LIMIT 21",
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("{explain} {sql}"),
            [q.into(), format!("{q}{{").into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            r.try_get::<String>("", "QUERY PLAN")
                .or_else(|_| r.try_get::<String>("", "detail"))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

db_test!(
    a_username_search_is_served_by_an_index_even_when_nothing_matches,
    |app| {
        crate::helpers::insert_users(app.state.store.connection(), "member", 300).await;
        let plan = search_plan(&app, "zzz").await;
        let index = match app.backend {
            crate::helpers::Backend::Postgres => "ix_users_username_lower_c",
            crate::helpers::Backend::Sqlite => "ux_users_username_lower",
        };
        assert!(plan.contains(index), "the plan uses {index}: {plan}");
        assert!(
            !plan.contains("SCAN users\n") && !plan.ends_with("SCAN users"),
            "{plan}"
        );
        // And the API's search is that statement: the same answers as before.
        let found = app.get("/api/v1/users?q=MEMBER29&limit=100", None).await;
        found.assert_status(200);
        let names: Vec<&str> = found.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 11, "member29 and member290–299: {names:?}");
        assert!(names.iter().all(|n| n.starts_with("member29")));
        let none = app.get("/api/v1/users?q=zzz", None).await;
        assert_eq!(none.body["items"], json!([]));
        // `%` and `_` still match only themselves.
        let wild = app.get("/api/v1/users?q=m_mber", None).await;
        assert_eq!(wild.body["items"], json!([]));
    }
);

db_test!(
    names_with_invisible_or_direction_changing_characters_are_422_naming_the_field,
    |app| {
        let (id, token) = app.seed_user("grace").await;
        for bad in [
            "ad\u{202E}nimda",
            "gr\u{200B}ace",
            "\u{2066}x\u{2069}",
            "a\u{FEFF}b",
        ] {
            let res = app
                .patch(
                    &format!("/api/v1/users/{id}"),
                    Some(&token),
                    json!({"display_name": bad}),
                )
                .await;
            res.assert_problem(422, "validation_failed");
            assert_eq!(res.body["errors"][0]["field"], "display_name", "{bad:?}");
            let res = app
                .post(
                    "/api/v1/auth/register",
                    None,
                    json!({"username": format!("x{bad}"), "email": "x@example.com", "password": "password123"}),
                )
                .await;
            res.assert_problem(422, "validation_failed");
            assert_eq!(res.body["errors"][0]["field"], "username", "{bad:?}");
            let res = crate::conduit::post(
                &app,
                "/api/users",
                None,
                json!({"user": {"username": format!("x{bad}"), "email": "x@example.com", "password": "password123"}}),
            )
            .await;
            res.assert_status(422);
            assert!(res.body["errors"]["username"].is_array(), "{}", res.body);
        }
        app.patch(
            &format!("/api/v1/users/{id}"),
            Some(&token),
            json!({"display_name": "Grâce Hopper 🙂"}),
        )
        .await
        .assert_status(200);
    }
);

db_test!(the_conduit_face_takes_bodies_only_as_json, |app| {
    let body =
        r#"{"user":{"username":"mallory","email":"m@example.com","password":"password123"}}"#;
    for (path, content_type) in [
        ("/api/users", Some("text/plain")),
        ("/api/users", Some("application/x-www-form-urlencoded")),
        ("/api/users", None),
        ("/api/users/login", Some("text/plain")),
    ] {
        let res = app
            .send_raw(reqwest::Method::POST, path, content_type, body.into())
            .await;
        res.assert_status(415);
        assert!(
            res.body["errors"]["body"].is_array(),
            "{path}: {}",
            res.body
        );
    }
    let users = app.get("/api/v1/users?q=mallory", None).await;
    assert_eq!(users.body["items"], json!([]), "nobody was registered");
    app.send_raw(
        reqwest::Method::POST,
        "/api/users",
        Some("application/json; charset=utf-8"),
        body.into(),
    )
    .await
    .assert_status(201);
});
