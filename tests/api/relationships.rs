//! API 1.1 across its tables (SPEC §5): cascades and their previews, `relata check` on
//! the new tables, `relata seed` filling them, and the upgrade of a 1.0 database.

use relata::entity::{favorite, follow, post, post_tag, tag};
use relata::migration::Migrator;
use reqwest::Method;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use sea_orm_migration::MigratorTrait;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, TestApp};

async fn count<E>(app: &TestApp) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find().count(app.state.store.connection()).await.unwrap()
}

/// alice and bob follow each other, carol follows alice; alice's post is tagged and
/// favorited by bob and carol; bob's post is favorited by alice.
struct Web {
    alice: (i64, String),
    bob: (i64, String),
    alice_post: i64,
}

async fn arrange(app: &TestApp) -> Web {
    let alice = app.seed_user("alice").await;
    let bob = app.seed_user("bob").await;
    let carol = app.seed_user("carol").await;
    let put = |path: String, token: String| async move {
        app.request(Method::PUT, &path, Some(&token), None)
            .await
            .assert_status(201);
    };
    put(
        format!("/api/v1/users/{}/followers/{}", bob.0, alice.0),
        alice.1.clone(),
    )
    .await;
    put(
        format!("/api/v1/users/{}/followers/{}", alice.0, bob.0),
        bob.1.clone(),
    )
    .await;
    put(
        format!("/api/v1/users/{}/followers/{}", alice.0, carol.0),
        carol.1.clone(),
    )
    .await;
    let res = app
        .post(
            "/api/v1/posts",
            Some(&alice.1),
            json!({"title": "a", "content": "c", "tags": ["one", "two"]}),
        )
        .await;
    let alice_post = res.body["id"].as_i64().unwrap();
    let bob_post = app.seed_post(bob.0, "b").await;
    put(
        format!("/api/v1/posts/{alice_post}/favorites/{}", bob.0),
        bob.1.clone(),
    )
    .await;
    put(
        format!("/api/v1/posts/{alice_post}/favorites/{}", carol.0),
        carol.1.clone(),
    )
    .await;
    put(
        format!("/api/v1/posts/{bob_post}/favorites/{}", alice.0),
        alice.1.clone(),
    )
    .await;
    Web {
        alice,
        bob,
        alice_post,
    }
}

db_test!(
    deleting_a_user_takes_their_follows_both_ways_and_their_favorites,
    |app| {
        let web = arrange(&app).await;
        let path = format!("/api/v1/users/{}", web.alice.0);
        let preview = app
            .delete(&format!("{path}?dry_run=true"), Some(&web.alice.1))
            .await;
        preview.assert_status(200);
        let delete = &preview.body["delete"];
        // alice→bob, bob→alice, carol→alice; hers on bob's post and the two on her post;
        // her post's two tags.
        assert_eq!(delete["follows"], 3, "{}", preview.body);
        assert_eq!(delete["favorites"], 3, "{}", preview.body);
        assert_eq!(delete["post_tags"], 2, "{}", preview.body);
        assert!(
            delete.get("tags").is_none(),
            "tags are never deleted by a cascade"
        );
        assert_eq!(
            count::<follow::Entity>(&app).await,
            3,
            "a dry run changes nothing"
        );

        app.delete(&path, Some(&web.alice.1))
            .await
            .assert_status(204);
        assert_eq!(count::<follow::Entity>(&app).await, 0);
        assert_eq!(count::<favorite::Entity>(&app).await, 0);
        assert_eq!(count::<post_tag::Entity>(&app).await, 0);
        assert_eq!(
            count::<tag::Entity>(&app).await,
            2,
            "tags outlive their posts"
        );
        let followers = app
            .get(&format!("/api/v1/users/{}/followers", web.bob.0), None)
            .await;
        assert_eq!(followers.body["items"], json!([]));
        assert!(
            relata::ops::check::run(app.state.store.connection())
                .await
                .unwrap()
                .is_clean()
        );
    }
);

db_test!(deleting_a_post_takes_its_favorites_and_post_tags, |app| {
    let web = arrange(&app).await;
    let path = format!("/api/v1/posts/{}", web.alice_post);
    let preview = app
        .delete(&format!("{path}?dry_run=true"), Some(&web.alice.1))
        .await;
    preview.assert_status(200);
    assert_eq!(
        preview.body["delete"],
        json!({"posts": 1, "comments": 0, "favorites": 2, "post_tags": 2})
    );
    app.delete(&path, Some(&web.alice.1))
        .await
        .assert_status(204);
    assert_eq!(
        count::<favorite::Entity>(&app).await,
        1,
        "the favorite of bob's post stays"
    );
    assert_eq!(count::<post_tag::Entity>(&app).await, 0);
    assert_eq!(count::<tag::Entity>(&app).await, 2);
    assert_eq!(count::<follow::Entity>(&app).await, 3);
});

db_test!(the_integrity_check_covers_the_new_tables, |app| {
    arrange(&app).await;
    let report = relata::ops::check::run(app.state.store.connection())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let checked: Vec<String> = report
        .foreign_keys
        .iter()
        .map(|fk| format!("{}.{}->{}", fk.table, fk.column, fk.parent_table))
        .collect();
    for expected in [
        "follows.follower_id->users",
        "follows.followee_id->users",
        "favorites.user_id->users",
        "favorites.post_id->posts",
        "post_tags.post_id->posts",
        "post_tags.tag_id->tags",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} in {checked:?}"
        );
    }
    // The database itself refuses a self-follow.
    let (alice, _) = app.seed_user("selfish").await;
    let refused = app
        .state
        .store
        .connection()
        .execute_unprepared(&format!(
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ({alice}, {alice}, '2026-01-01T00:00:00+00:00')"
        ))
        .await;
    assert!(refused.is_err());
});

db_test!(
    the_seed_fills_follows_tags_and_favorites_deterministically,
    |app| {
        let plan = relata::ops::seed::SeedPlan {
            users: 60,
            posts_per_user: 3,
            comments_per_post: 1,
            seed: 5,
        };
        let bar = indicatif::ProgressBar::hidden();
        let db = app.raw_db().await;
        let report = relata::ops::seed::run(&db, &plan, &bar).await.unwrap();
        assert_eq!(count::<follow::Entity>(&app).await, report.follows);
        assert!(
            report.follows >= 60,
            "each user follows someone: {}",
            report.follows
        );
        assert_eq!(report.tags, 50);
        assert_eq!(count::<post_tag::Entity>(&app).await, report.post_tags);
        assert_eq!(count::<favorite::Entity>(&app).await, report.favorites);
        assert!(relata::ops::check::run(&db).await.unwrap().is_clean());

        // Uneven: the most favorited post has several favorites, many posts have none.
        let per_post = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT post_id, COUNT(*) AS n FROM favorites GROUP BY post_id ORDER BY n DESC"
                    .to_string(),
            ))
            .await
            .unwrap();
        let top: i64 = per_post[0].try_get("", "n").unwrap();
        assert!(top >= 4, "top post has {top} favorites");
        assert!(
            (per_post.len() as u64) < report.posts,
            "some posts have none"
        );
        let max_tags = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT MAX(n) AS m FROM (SELECT COUNT(*) AS n FROM post_tags GROUP BY post_id) t"
                    .to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(max_tags.try_get::<i64>("", "m").unwrap() <= 4);

        // The same seed on another empty database gives the same relationships.
        let twin = TestApp::spawn(app.backend).await.unwrap();
        let twin_db = twin.raw_db().await;
        relata::ops::seed::run(&twin_db, &plan, &bar).await.unwrap();
        let rows = |db: sea_orm::DatabaseConnection| async move {
            let follows: Vec<(i64, i64)> = follow::Entity::find()
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|f| (f.follower_id, f.followee_id))
                .collect();
            let favorites: Vec<(i64, i64)> = favorite::Entity::find()
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|f| (f.user_id, f.post_id))
                .collect();
            let tagged: Vec<(i64, i64, i32)> = post_tag::Entity::find()
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|t| (t.post_id, t.tag_id, t.position))
                .collect();
            let mut all = (follows, favorites, tagged);
            all.0.sort();
            all.1.sort();
            all.2.sort();
            all
        };
        assert_eq!(rows(db).await, rows(twin_db).await);
    }
);

/// Lays down the 1.0 schema (the first migration only) with a few users and posts, as a
/// 1.0 server left it.
async fn a_1_0_database(url: String) {
    let db = relata::store::connect(&url, 1).await.unwrap();
    Migrator::up(&db, Some(1)).await.unwrap();
    let at = "'2026-01-01T00:00:00+00:00'";
    for sql in [
        format!(
            "INSERT INTO users (username, email, password_hash, is_active, created_at, updated_at) VALUES ('old', 'old@example.com', 'x', true, {at}, {at})"
        ),
        format!(
            "INSERT INTO posts (author_id, title, content, created_at, updated_at) VALUES (1, 'Hello, World', 'c', {at}, {at}), (1, 'Hello, World', 'c', {at}, {at}), (1, '✓', 'c', {at}, {at})"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    db.close().await.unwrap();
}

async fn upgrade(backend: Backend) {
    let Some(app) = TestApp::spawn_prepared(backend, |_| {}, a_1_0_database).await else {
        return;
    };
    let res = app.get("/api/v1/posts?limit=10", None).await;
    res.assert_status(200);
    let mut slugs: Vec<(i64, String, String)> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_i64().unwrap(),
                p["slug"].as_str().unwrap().to_string(),
                p["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    slugs.sort();
    assert_eq!(
        slugs,
        [
            (1, "hello-world-1".to_string(), String::new()),
            (2, "hello-world-2".to_string(), String::new()),
            (3, "post-3".to_string(), String::new()),
        ]
    );
    assert!(
        relata::ops::check::run(app.state.store.connection())
            .await
            .unwrap()
            .is_clean()
    );
    // The upgraded database takes 1.1 writes.
    let (_, token) = app.seed_user("new").await;
    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "Hello, World", "content": "c", "tags": ["upgraded"]}),
        )
        .await;
    res.assert_status(201);
    assert_ne!(res.body["slug"], "hello-world-1");
    assert_eq!(count::<post::Entity>(&app).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_0_database_is_upgraded_in_place_on_sqlite() {
    upgrade(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_0_database_is_upgraded_in_place_on_postgres() {
    upgrade(Backend::Postgres).await;
}
