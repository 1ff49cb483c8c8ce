//! The foundation: schema and invariants read back from each database, the integrity
//! check, the cascades at the database level, and the conventions every response follows.

use relata::entity::{comment, post, profile, role, user, user_role};
use relata::ops::check;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db_test;
use crate::helpers::Backend;
use crate::helpers::{
    insert_assignment, insert_comment, insert_post, insert_user, try_insert_profile,
};

db_test!(health_answers_ok_with_statement_headers, |app| {
    let res = app.get("/api/v1/health", None).await;
    res.assert_status(200);
    assert_eq!(
        res.body,
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    assert_eq!(res.query_count(), 1);
    assert!(res.header("server-timing").unwrap().starts_with("db;dur="));
});

db_test!(unknown_api_routes_answer_a_404_problem, |app| {
    let res = app.get("/api/v1/no/such/route", None).await;
    res.assert_problem(404, "not_found");
    assert!(res.header("x-query-count").is_some());
    let res = app
        .request(reqwest::Method::DELETE, "/api/v1/health", None, None)
        .await;
    res.assert_problem(405, "method_not_allowed");
});

db_test!(
    every_table_of_the_spec_exists_with_the_builtin_roles,
    |app| {
        let db = app.raw_db().await;
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
        };
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .unwrap();
        let names: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "name").unwrap())
            .collect();
        for table in [
            "users",
            "profiles",
            "posts",
            "comments",
            "roles",
            "user_roles",
            "refresh_tokens",
            "revoked_tokens",
            "login_attempts",
        ] {
            assert!(
                names.iter().any(|n| n == table),
                "missing table {table}: {names:?}"
            );
        }
        let roles: Vec<String> = role::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert!(roles.contains(&"admin".to_string()) && roles.contains(&"moderator".to_string()));
    }
);

db_test!(every_foreign_key_column_leads_an_index_i1, |app| {
    let db = app.raw_db().await;
    let report = check::run(&db).await.expect("the check runs");
    // users ← profiles, posts, comments×1, user_roles×2, tokens×2, login_attempts; posts ← comments; roles ← user_roles
    assert!(
        report.foreign_keys.len() >= 10,
        "foreign keys read back: {:?}",
        report.foreign_keys
    );
    for (table, column) in [
        ("profiles", "user_id"),
        ("posts", "author_id"),
        ("comments", "post_id"),
        ("comments", "author_id"),
        ("user_roles", "user_id"),
        ("user_roles", "role_id"),
        ("user_roles", "assigned_by"),
    ] {
        assert!(
            report
                .foreign_keys
                .iter()
                .any(|fk| fk.table == table && fk.column == column),
            "{table}.{column} is not a foreign key in the database"
        );
    }
    assert!(
        report.unindexed.is_empty(),
        "unindexed foreign keys: {:?}",
        report.unindexed
    );
    assert!(report.is_clean());
});

db_test!(
    the_check_reports_an_orphan_planted_with_foreign_keys_off_i2,
    |app| {
        let db = relata::store::connect(&app.database_url, 1).await.unwrap();
        let author = insert_user(&db, "alice").await;
        let post_id = insert_post(&db, author).await;
        insert_comment(&db, post_id, author).await;
        assert!(
            check::run(&db).await.unwrap().is_clean(),
            "clean after ordinary writes"
        );

        // Plant an orphan below the database's guard.
        let off = match app.backend {
            Backend::Sqlite => "PRAGMA foreign_keys = OFF",
            Backend::Postgres => "SET session_replication_role = replica",
        };
        db.execute_unprepared(off).await.unwrap();
        insert_post(&db, 987_654).await;
        let report = check::run(&db).await.unwrap();
        assert!(!report.is_clean());
        // SQLite's trigger counted the post for its missing author, whose counter row is
        // then an orphan too; PostgreSQL's replica mode fires no trigger, so there the
        // counters miss the post instead (migration m0004).
        let (tables, miscounted) = match app.backend {
            Backend::Sqlite => (vec!["posts", "user_post_counts"], vec![]),
            Backend::Postgres => (vec!["posts"], vec!["post_counts", "user_post_counts"]),
        };
        let orphaned: Vec<&str> = report
            .orphans
            .iter()
            .map(|(fk, _)| fk.table.as_str())
            .collect();
        assert_eq!(orphaned, tables, "{:?}", report.orphans);
        assert_eq!(report.orphans[0].0.column, "author_id");
        assert_eq!(report.orphans[0].1, 1);
        let wrong: Vec<&str> = report.miscounted.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(wrong, miscounted, "{:?}", report.miscounted);
    }
);

db_test!(
    the_database_refuses_a_second_profile_for_one_user_i4,
    |app| {
        let db = app.raw_db().await;
        let id = insert_user(&db, "alice").await;
        try_insert_profile(&db, id)
            .await
            .expect("the first profile");
        let err = try_insert_profile(&db, id)
            .await
            .expect_err("a second profile must be refused");
        assert!(relata::error::unique_violation(&err).is_some(), "{err}");
    }
);

db_test!(
    deleting_a_user_row_cascades_and_nulls_their_assignments,
    |app| {
        let db = app.raw_db().await;
        let alice = insert_user(&db, "alice").await;
        let bob = insert_user(&db, "bob").await;
        try_insert_profile(&db, alice).await.unwrap();
        let alice_post = insert_post(&db, alice).await;
        let bob_post = insert_post(&db, bob).await;
        insert_comment(&db, alice_post, bob).await; // on alice's post: goes
        insert_comment(&db, bob_post, alice).await; // by alice: goes
        let kept = insert_comment(&db, bob_post, bob).await;
        insert_assignment(&db, alice, "moderator", None).await;
        insert_assignment(&db, bob, "moderator", Some(alice)).await; // made by alice: stays, assigned_by null

        user::Entity::delete_by_id(alice).exec(&db).await.unwrap();

        assert_eq!(profile::Entity::find().count(&db).await.unwrap(), 0);
        assert_eq!(
            post::Entity::find()
                .filter(post::Column::AuthorId.eq(alice))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        let comments: Vec<i64> = comment::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(comments, vec![kept]);
        let links = user_role::Entity::find().all(&db).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].user_id, bob);
        assert_eq!(links[0].assigned_by, None);
        assert!(check::run(&db).await.unwrap().is_clean());
    }
);

db_test!(health_answers_503_when_the_database_is_gone, |app| {
    use tower::ServiceExt;
    let state = app.state.clone();
    state.store.connection().clone().close().await.ok();
    let router = relata::build_router(state);
    let res = router
        .oneshot(
            axum::http::Request::get("/api/v1/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
});
