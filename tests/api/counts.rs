//! Issue 25: the post counters behind Conduit's `articlesCount` (migration
//! `m0004_post_counts`). After every kind of write — through either face, below the API,
//! by `relata seed`, by a cascade, many at once — every list's `articlesCount` equals a
//! real `COUNT(*)` of what it lists, and `relata check` finds every counter row right;
//! the counters are filled for posts written before the migration and go with
//! `migrate down`; and creating a post with tags costs the statements it should.

use futures::future::join_all;
use relata::entity::post;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement};
use serde_json::json;

use crate::conduit::{self, register, write};
use crate::db_test;
use crate::helpers::{Backend, TestApp, insert_post};

/// One number from `sql` (`SELECT COUNT(*) AS n …`, one `?` for `arg`).
async fn real_count(db: &DatabaseConnection, sql: &str, arg: Option<sea_orm::Value>) -> u64 {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        sql.replace('?', "$1")
    } else {
        sql.to_string()
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            arg.into_iter().collect::<Vec<_>>(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() as u64
}

async fn names(db: &DatabaseConnection, sql: &str) -> Vec<(i64, String)> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "name").unwrap()))
        .collect()
}

/// `articlesCount` of `path` (with `token` when given).
async fn articles_count(app: &TestApp, path: &str, token: Option<&str>) -> u64 {
    let res = conduit::get(app, path, token).await;
    res.assert_status(200);
    res.body["articlesCount"].as_u64().expect("articlesCount")
}

/// Every list (all, per tag, per author, per favoriter, every user's feed) answers the
/// number of posts a real `COUNT(*)` finds, and `relata check` finds no counter wrong.
/// `tokens` are the Conduit tokens of the users whose feeds are read, by username.
async fn assert_counts_exact(app: &TestApp, tokens: &[(&str, &str)], when: &str) {
    let db = app.raw_db().await;
    let all = real_count(&db, "SELECT COUNT(*) AS n FROM posts", None).await;
    assert_eq!(
        articles_count(app, "/api/articles?limit=1", None).await,
        all,
        "{when}: all"
    );
    for (_, tag) in names(&db, "SELECT id, name FROM tags").await {
        let real = real_count(
            &db,
            "SELECT COUNT(*) AS n FROM post_tags JOIN tags ON tags.id = post_tags.tag_id WHERE tags.name = ?",
            Some(tag.clone().into()),
        )
        .await;
        let encoded: String = url::form_urlencoded::byte_serialize(tag.as_bytes()).collect();
        let path = format!("/api/articles?limit=1&tag={encoded}");
        assert_eq!(
            articles_count(app, &path, None).await,
            real,
            "{when}: tag {tag}"
        );
    }
    for (id, name) in names(&db, "SELECT id, username AS name FROM users").await {
        let written = real_count(
            &db,
            "SELECT COUNT(*) AS n FROM posts WHERE author_id = ?",
            Some(id.into()),
        )
        .await;
        let path = format!("/api/articles?limit=1&author={}", name.to_uppercase());
        assert_eq!(
            articles_count(app, &path, None).await,
            written,
            "{when}: author {name}"
        );
        let favorited = real_count(
            &db,
            "SELECT COUNT(*) AS n FROM favorites WHERE user_id = ?",
            Some(id.into()),
        )
        .await;
        let path = format!("/api/articles?limit=1&favorited={name}");
        assert_eq!(
            articles_count(app, &path, None).await,
            favorited,
            "{when}: favorited by {name}"
        );
        if let Some((_, token)) = tokens.iter().find(|(n, _)| *n == name) {
            let feed = real_count(
                &db,
                "SELECT COUNT(*) AS n FROM posts WHERE author_id IN \
                 (SELECT followee_id FROM follows WHERE follower_id = ?)",
                Some(id.into()),
            )
            .await;
            assert_eq!(
                articles_count(app, "/api/articles/feed?limit=1", Some(token)).await,
                feed,
                "{when}: feed of {name}"
            );
        }
    }
    // Combined filters have no counter of their own and are counted.
    let combined = real_count(
        &db,
        "SELECT COUNT(*) AS n FROM posts WHERE author_id = \
         (SELECT id FROM users WHERE username = 'ann') AND id IN \
         (SELECT post_id FROM post_tags JOIN tags ON tags.id = post_tags.tag_id WHERE tags.name = 'rust')",
        None,
    )
    .await;
    assert_eq!(
        articles_count(app, "/api/articles?limit=1&author=ann&tag=rust", None).await,
        combined,
        "{when}: author and tag"
    );
    let report = relata::ops::check::run(&db).await.unwrap();
    assert!(
        report.miscounted.is_empty(),
        "{when}: relata check finds counters wrong: {:?}",
        report.miscounted
    );
    db.close().await.ok();
}

async fn v1_login(app: &TestApp, name: &str) -> String {
    app.login(name).await
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    let db = app.raw_db().await;
    let id = names(&db, "SELECT id, username AS name FROM users")
        .await
        .into_iter()
        .find(|(_, n)| n == name)
        .expect("the user")
        .0;
    db.close().await.ok();
    id
}

db_test!(
    articles_count_stays_exact_after_every_kind_of_write,
    |app| {
        let ann = register(&app, "ann").await;
        let bob = register(&app, "bob").await;
        let cy = register(&app, "cyd").await;
        let tokens = [
            ("ann", ann.as_str()),
            ("bob", bob.as_str()),
            ("cyd", cy.as_str()),
        ];
        assert_counts_exact(&app, &tokens, "empty").await;

        // Follows (the feeds), then posts through /api with tags.
        for (who, whom) in [(&bob, "ann"), (&cy, "ann"), (&cy, "bob")] {
            conduit::post(
                &app,
                &format!("/api/profiles/{whom}/follow"),
                Some(who),
                json!({}),
            )
            .await
            .assert_status(200);
        }
        let a1 = write(&app, &ann, "First", &["rust", "sql"]).await;
        let a2 = write(&app, &ann, "Second", &["rust"]).await;
        let b1 = write(&app, &bob, "Bob's", &["sql", "go", "rust"]).await;
        write(&app, &cy, "Plain", &[]).await;
        assert_counts_exact(&app, &tokens, "written through /api").await;

        // Through /api/v1, with and without tags.
        let ann_v1 = v1_login(&app, "ann").await;
        let bob_v1 = v1_login(&app, "bob").await;
        let res = app
            .post(
                "/api/v1/posts",
                Some(&bob_v1),
                json!({"title": "v1 post", "content": "x", "tags": ["go", "new-tag"]}),
            )
            .await;
        res.assert_status(201);
        let v1_post = res.body["id"].as_i64().unwrap();
        app.post(
            "/api/v1/posts",
            Some(&ann_v1),
            json!({"title": "v1 bare", "content": "x"}),
        )
        .await
        .assert_status(201);
        assert_counts_exact(&app, &tokens, "written through /api/v1").await;

        // Below the API.
        let db = app.raw_db().await;
        insert_post(&db, user_id(&app, "cyd").await).await;
        db.close().await.ok();
        assert_counts_exact(&app, &tokens, "a post inserted by SQL").await;

        // Favorites on both faces, twice (idempotent), and undone.
        for (token, slug) in [(&bob, &a1), (&cy, &a1), (&cy, &b1), (&cy, &b1), (&ann, &b1)] {
            conduit::post(
                &app,
                &format!("/api/articles/{slug}/favorite"),
                Some(token),
                json!({}),
            )
            .await
            .assert_status(200);
        }
        let ann_id = user_id(&app, "ann").await;
        let res = app
            .put(
                &format!("/api/v1/posts/{v1_post}/favorites/{ann_id}"),
                Some(&ann_v1),
                json!({}),
            )
            .await;
        res.assert_status(201);
        assert_counts_exact(&app, &tokens, "favorited").await;
        conduit::delete(&app, &format!("/api/articles/{b1}/favorite"), Some(&cy))
            .await
            .assert_status(200);
        conduit::delete(&app, &format!("/api/articles/{b1}/favorite"), Some(&cy))
            .await
            .assert_status(200);
        app.delete(
            &format!("/api/v1/posts/{v1_post}/favorites/{ann_id}"),
            Some(&ann_v1),
        )
        .await
        .assert_status(204);
        assert_counts_exact(&app, &tokens, "unfavorited").await;

        // Tags changed on both faces: replaced, reordered, removed, kept.
        conduit::put(
            &app,
            &format!("/api/articles/{a1}"),
            Some(&ann),
            json!({"article": {"tagList": ["sql", "go", "brand-new"]}}),
        )
        .await
        .assert_status(200);
        conduit::put(
            &app,
            &format!("/api/articles/{a2}"),
            Some(&ann),
            json!({"article": {"tagList": []}}),
        )
        .await
        .assert_status(200);
        conduit::put(
            &app,
            &format!("/api/articles/{b1}"),
            Some(&bob),
            json!({"article": {"title": "Renamed"}}),
        )
        .await
        .assert_status(200);
        app.patch(
            &format!("/api/v1/posts/{v1_post}"),
            Some(&bob_v1),
            json!({"tags": ["rust", "go"]}),
        )
        .await
        .assert_status(200);
        assert_counts_exact(&app, &tokens, "tags changed").await;

        // Deletes: an article through /api (its tags and favorites go with it), a post
        // through /api/v1.
        conduit::delete(&app, &format!("/api/articles/{a1}"), Some(&ann))
            .await
            .assert_status(204);
        app.delete(&format!("/api/v1/posts/{v1_post}"), Some(&bob_v1))
            .await
            .assert_status(204);
        assert_counts_exact(&app, &tokens, "posts deleted").await;

        // A user deleted: their posts, those posts' tags and favorites (others' counters),
        // their own favorites and follows, all by cascade.
        write(&app, &bob, "Bob again", &["rust", "sql"]).await;
        conduit::post(
            &app,
            &format!("/api/articles/{a2}/favorite"),
            Some(&bob),
            json!({}),
        )
        .await
        .assert_status(200);
        let bob_id = user_id(&app, "bob").await;
        app.delete(&format!("/api/v1/users/{bob_id}"), Some(&bob_v1))
            .await
            .assert_status(204);
        assert_counts_exact(&app, &[("ann", &ann), ("cyd", &cy)], "a user deleted").await;

        // A seed on top of it all.
        let db = app.raw_db().await;
        let plan = relata::ops::seed::SeedPlan {
            users: 12,
            posts_per_user: 3,
            comments_per_post: 0,
            seed: 7,
        };
        relata::ops::seed::run(&db, &plan, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        db.close().await.ok();
        assert_counts_exact(&app, &[("ann", &ann), ("cyd", &cy)], "seeded").await;
    }
);

db_test!(articles_count_stays_exact_under_concurrent_writes, |app| {
    let mut tokens = Vec::new();
    for name in ["wr0", "wr1", "wr2", "wr3"] {
        tokens.push((name, register(&app, name).await));
    }
    // Every writer writes posts with the same tags in different orders, at once.
    let orders: [&[&str]; 4] = [
        &["a", "b", "c"],
        &["c", "b", "a"],
        &["b", "a"],
        &["c", "a", "b"],
    ];
    let app = &app;
    let writes = tokens.iter().enumerate().flat_map(|(i, (_, token))| {
        (0..6).map(move |k| {
            let token = token.clone();
            let tags = orders[(i + k) % 4];
            async move {
                let res = conduit::post(
                    app,
                    "/api/articles",
                    Some(&token),
                    json!({"article": {"title": format!("p{i}-{k}"), "description": "d", "body": "b", "tagList": tags}}),
                )
                .await;
                res.assert_status(201);
                res.body["article"]["slug"].as_str().unwrap().to_string()
            }
        })
    });
    let slugs: Vec<String> = join_all(writes).await;
    let views: Vec<(&str, &str)> = tokens.iter().map(|(n, t)| (*n, t.as_str())).collect();
    assert_counts_exact(app, &views, "concurrent creations").await;

    // Favorites, unfavorites, tag changes and deletes, all at once.
    let mixed = slugs.iter().enumerate().map(|(i, slug)| {
        // Slugs are in the order written: six per writer.
        let (_, token) = &tokens[i / 6];
        let (_, other) = &tokens[(i / 6 + 1) % 4];
        let (token, other, slug) = (token.clone(), other.clone(), slug.clone());
        async move {
            let favorite = format!("/api/articles/{slug}/favorite");
            conduit::post(app, &favorite, Some(&other), json!({}))
                .await
                .assert_status(200);
            let (res, status) = match i % 3 {
                0 => (
                    conduit::delete(app, &format!("/api/articles/{slug}"), Some(&token)).await,
                    204,
                ),
                1 => {
                    let tags = json!({"article": {"tagList": ["b", "d"]}});
                    (
                        conduit::put(app, &format!("/api/articles/{slug}"), Some(&token), tags)
                            .await,
                        200,
                    )
                }
                _ => (conduit::delete(app, &favorite, Some(&other)).await, 200),
            };
            res.assert_status(status);
        }
    });
    join_all(mixed).await;
    assert_counts_exact(app, &views, "concurrent favorites, tag changes and deletes").await;
});

db_test!(check_reports_a_counter_that_disagrees_with_a_count, |app| {
    let ann = register(&app, "ann").await;
    write(&app, &ann, "One", &["rust"]).await;
    let db = app.raw_db().await;
    assert!(relata::ops::check::run(&db).await.unwrap().is_clean());
    db.execute_unprepared("UPDATE tag_post_counts SET posts = posts + 1")
        .await
        .unwrap();
    db.execute_unprepared("UPDATE user_post_counts SET favorites = favorites + 2")
        .await
        .unwrap();
    let report = relata::ops::check::run(&db).await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(
        report.miscounted,
        [
            ("user_post_counts".to_string(), 1),
            ("tag_post_counts".to_string(), 1)
        ]
    );
});

/// Lays down the schema before the counters (the first three migrations) with posts,
/// tags and favorites in it; the application's start-up then applies the counters'
/// migration, which must count what is there.
async fn rows_before_the_counters(url: String) {
    use sea_orm_migration::MigratorTrait;
    let db = relata::store::connect(&url, 1).await.unwrap();
    relata::migration::Migrator::up(&db, Some(3)).await.unwrap();
    crate::helpers::insert_users(&db, "old", 5).await;
    let stmts = [
        "INSERT INTO tags (name, created_at) SELECT 'old-' || id, created_at FROM users",
        "INSERT INTO posts (author_id, title, slug, description, content, created_at, updated_at) \
         SELECT u.id, 'T', 'slug-' || u.id || '-' || t.id, '', 'c', u.created_at, u.created_at \
         FROM users u, tags t WHERE t.id <= u.id",
        "INSERT INTO post_tags (post_id, tag_id, position) \
         SELECT p.id, t.id, 0 FROM posts p, tags t WHERE t.id <= p.id % 4 + 1",
        "INSERT INTO favorites (user_id, post_id, created_at) \
         SELECT u.id, p.id, p.created_at FROM users u, posts p WHERE (u.id + p.id) % 3 = 0",
    ];
    for sql in stmts {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.ok();
}

async fn counters_are_filled_by_the_migration(backend: Backend) {
    let Some(app) = TestApp::spawn_prepared(backend, |_| {}, rows_before_the_counters).await else {
        panic!("{}", crate::helpers::NEEDS_POSTGRES);
    };
    let db = app.raw_db().await;
    let posts = post::Entity::find().all(&db).await.unwrap();
    assert!(posts.len() >= 15, "{}", posts.len());
    db.close().await.ok();
    assert_counts_exact(&app, &[], "after the migration's backfill").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_counts_the_posts_already_there_sqlite() {
    counters_are_filled_by_the_migration(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
async fn the_migration_counts_the_posts_already_there_postgres() {
    counters_are_filled_by_the_migration(Backend::Postgres).await;
}

// Statements of creating a post with tags: on PostgreSQL one in all, the token check,
// the post and its tags (`service::with_write`); on SQLite the token check, then three
// (the post, the new names, the post's tag rows), and for a post without tags one
// `INSERT … RETURNING` (SQLite's write connection steps it to its commit, see
// `service::posts::insert`).
db_test!(
    creating_a_post_with_tags_costs_the_fewest_statements,
    |app| {
        let (token_check, create_tagged, create_bare) = match app.backend {
            Backend::Postgres => (0, 1, 1),
            Backend::Sqlite => (1, 3, 1),
        };
        let (_, token) = app.user("ann").await;
        app.post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "warm", "content": "up", "tags": ["x"]}),
        )
        .await
        .assert_status(201);
        let tagged = app
            .post(
                "/api/v1/posts",
                Some(&token),
                json!({"title": "Tagged", "content": "x", "tags": ["rust", "x", "sql"]}),
            )
            .await;
        tagged.assert_status(201);
        assert_eq!(tagged.query_count(), token_check + create_tagged);
        let bare = app
            .post(
                "/api/v1/posts",
                Some(&token),
                json!({"title": "Bare", "content": "x"}),
            )
            .await;
        bare.assert_status(201);
        assert_eq!(bare.query_count(), token_check + create_bare);
        let tags = app
            .get(
                &format!("/api/v1/posts/{}?include=tags", tagged.body["id"]),
                None,
            )
            .await;
        assert_eq!(tags.body["tags"], json!(["rust", "x", "sql"]));

        // The Conduit face's: `roundtrips::a_new_article_or_comment_is_answered_without_reading_it_back`.
    }
);
