//! `/users`: listing and searching, reading with `include`/`counts`, changing, deleting
//! with the cascade of I3, and the authorization matrix of every mutating endpoint.

use relata::entity::{comment, post, profile, user_role};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{admin, insert_comment, insert_post, insert_profile, insert_users};

fn usernames(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

db_test!(
    the_user_list_pages_by_id_and_searches_by_username_prefix,
    |app| {
        let db = app.raw_db().await;
        for name in ["Alpha", "alpine", "a_b", "axb", "a%c", "beta"] {
            insert_users(&db, name, 1).await;
        }
        let res = app.get("/api/v1/users?q=AL", None).await;
        res.assert_status(200);
        assert_eq!(usernames(&res.body), ["Alpha0", "alpine0"]);
        // `_` and `%` match themselves only.
        let res = app.get("/api/v1/users?q=a_", None).await;
        assert_eq!(usernames(&res.body), ["a_b0"]);
        let res = app.get("/api/v1/users?q=a%25", None).await;
        assert_eq!(usernames(&res.body), ["a%c0"]);

        let first = app.get("/api/v1/users?limit=4&count=true", None).await;
        first.assert_status(200);
        assert_eq!(first.body["total"], 6);
        assert_eq!(usernames(&first.body).len(), 4);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app
            .get(&format!("/api/v1/users?limit=4&cursor={cursor}"), None)
            .await;
        assert_eq!(usernames(&second.body), ["a%c0", "beta0"]);
        assert_eq!(second.body["next_cursor"], Value::Null);
        assert!(first.body["items"][0].get("email").is_none());

        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=nonsense",
            "count=maybe",
        ] {
            app.get(&format!("/api/v1/users?{bad}"), None)
                .await
                .assert_status(400);
        }
    }
);

db_test!(email_is_shown_only_to_the_user_and_to_admins, |app| {
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let (_, admin_token) = admin(&app).await;
    let path = format!("/api/v1/users/{alice}");
    assert!(app.get(&path, None).await.body.get("email").is_none());
    assert!(
        app.get(&path, Some(&bob_token))
            .await
            .body
            .get("email")
            .is_none()
    );
    assert_eq!(
        app.get(&path, Some(&alice_token)).await.body["email"],
        "alice@example.com"
    );
    assert_eq!(
        app.get(&path, Some(&admin_token)).await.body["email"],
        "alice@example.com"
    );
    let list = app.get("/api/v1/users", Some(&admin_token)).await;
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("email").is_some())
    );
});

db_test!(malformed_path_ids_are_400_and_absent_ones_404, |app| {
    for bad in ["0", "-1", "abc", "9223372036854775808", "1.5", "+1"] {
        app.get(&format!("/api/v1/users/{bad}"), None)
            .await
            .assert_problem(400, "invalid_path");
    }
    app.get("/api/v1/users/9223372036854775807", None)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/users/42", None)
        .await
        .assert_problem(404, "not_found");
});

db_test!(a_user_changes_their_own_account, |app| {
    let (alice, token) = app.user("alice").await;
    let path = format!("/api/v1/users/{alice}");
    let res = app
        .patch(
            &path,
            Some(&token),
            json!({"display_name": "Alice", "email": "NEW@example.com", "current_password": "password123"}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["display_name"], "Alice");
    assert_eq!(res.body["email"], "new@example.com");
    let res = app
        .patch(&path, Some(&token), json!({"display_name": null}))
        .await;
    assert_eq!(res.body["display_name"], Value::Null);
    assert_eq!(res.body["email"], "new@example.com");

    app.register("bob").await;
    app.patch(
        &path,
        Some(&token),
        json!({"email": "bob@example.com", "current_password": "password123"}),
    )
    .await
    .assert_problem(409, "email_taken");
    let res = app
        .patch(
            &path,
            Some(&token),
            json!({"email": "bad", "display_name": "x".repeat(81), "current_password": "password123"}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"].as_array().unwrap().len(), 2);
    // API 1.1: the username may change, under the same rules and uniqueness.
    let res = app
        .patch(&path, Some(&token), json!({"username": "renamed"}))
        .await;
    res.assert_status(200);
    assert_eq!(res.body["username"], "renamed");
    app.patch(&path, Some(&token), json!({"username": "BOB"}))
        .await
        .assert_problem(409, "username_taken");
    let res = app
        .patch(&path, Some(&token), json!({"username": "x"}))
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "username");
    app.patch(&path, Some(&token), json!({"username": null}))
        .await
        .assert_problem(422, "validation_failed");
    // The token issued before the rename still works.
    app.get("/api/v1/auth/me", Some(&token))
        .await
        .assert_status(200);
});

db_test!(
    a_new_password_needs_the_current_one_unless_an_admin_sets_it,
    |app| {
        let (alice, token) = app.user("alice").await;
        let path = format!("/api/v1/users/{alice}");
        let res = app
            .patch(&path, Some(&token), json!({"password": "new-password-1"}))
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "current_password");
        app.patch(
            &path,
            Some(&token),
            json!({"password": "new-password-1", "current_password": "wrong-password"}),
        )
        .await
        .assert_problem(403, "wrong_password");
        // 403 outranks 422: a wrong current password with an invalid new one.
        app.patch(
            &path,
            Some(&token),
            json!({"password": "short", "current_password": "wrong-password"}),
        )
        .await
        .assert_problem(403, "wrong_password");
        app.patch(
            &path,
            Some(&token),
            json!({"password": "new-password-1", "current_password": "password123"}),
        )
        .await
        .assert_status(200);
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "alice", "password": "new-password-1"}),
        )
        .await
        .assert_status(200);

        let (_, admin_token) = admin(&app).await;
        app.patch(
            &path,
            Some(&admin_token),
            json!({"password": "password123"}),
        )
        .await
        .assert_status(200);
        app.login("alice").await;
    }
);

db_test!(
    only_admins_change_is_active_and_a_non_admin_asking_gets_403,
    |app| {
        let (alice, token) = app.user("alice").await;
        let path = format!("/api/v1/users/{alice}");
        app.patch(&path, Some(&token), json!({"is_active": false}))
            .await
            .assert_problem(403, "forbidden");
        // 403 before the 422 of a bad field in the same body.
        app.patch(
            &path,
            Some(&token),
            json!({"is_active": false, "email": "bad"}),
        )
        .await
        .assert_problem(403, "forbidden");
        let (_, admin_token) = admin(&app).await;
        let res = app
            .patch(&path, Some(&admin_token), json!({"is_active": false}))
            .await;
        res.assert_status(200);
        assert_eq!(res.body["is_active"], false);
        let res = app
            .patch(&path, Some(&admin_token), json!({"is_active": true}))
            .await;
        assert_eq!(res.body["is_active"], true);
    }
);

db_test!(checks_answer_in_the_order_spec_gives_them, |app| {
    let (alice, token) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    // 401 before everything.
    app.send_raw(
        Method::PATCH,
        &format!("/api/v1/users/{alice}"),
        Some("text/plain"),
        b"x".to_vec(),
    )
    .await
    .assert_problem(401, "missing_token");
    // 415 before 404.
    let res = app
        .client
        .patch(app.url("/api/v1/users/999"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // 404 before 403, 403 before 422.
    app.patch("/api/v1/users/999", Some(&token), json!({"email": "bad"}))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/users/{bob}"),
        Some(&token),
        json!({"email": "bad"}),
    )
    .await
    .assert_problem(403, "forbidden");
});

db_test!(
    deleting_a_user_removes_their_profile_posts_and_every_comment_on_them,
    |app| {
        let (alice, alice_token) = app.user("alice").await;
        let (bob, bob_token) = app.user("bob").await;
        let db = app.raw_db().await;
        insert_profile(&db, alice).await;
        let alice_post = insert_post(&db, alice).await;
        let bob_post = insert_post(&db, bob).await;
        insert_comment(&db, alice_post, bob).await; // on alice's post: goes
        insert_comment(&db, bob_post, alice).await; // by alice on bob's post: goes
        insert_comment(&db, bob_post, bob).await; // stays
        app.grant_in_db(alice, "moderator").await;

        let path = format!("/api/v1/users/{alice}");
        let preview = app
            .request(
                Method::DELETE,
                &format!("{path}?dry_run=true"),
                Some(&alice_token),
                None,
            )
            .await;
        preview.assert_status(200);
        assert_eq!(preview.body["delete"]["users"], 1);
        assert_eq!(preview.body["delete"]["profiles"], 1);
        assert_eq!(preview.body["delete"]["posts"], 1);
        assert_eq!(preview.body["delete"]["comments"], 2);
        assert_eq!(preview.body["delete"]["user_roles"], 1);
        assert_eq!(preview.body["delete"]["refresh_tokens"], 1);
        assert_eq!(preview.body["set_null"]["user_roles.assigned_by"], 0);
        app.get(&path, None).await.assert_status(200);

        app.delete(&path, Some(&alice_token))
            .await
            .assert_status(204);
        app.get(&path, None).await.assert_problem(404, "not_found");
        // Their token is dead with them.
        app.get("/api/v1/auth/me", Some(&alice_token))
            .await
            .assert_status(401);
        // Seen from bob: his post keeps only his own comment.
        let res = app
            .get(
                &format!(
                    "/api/v1/users/{bob}?include=posts.comments,comments&counts=posts,comments"
                ),
                Some(&bob_token),
            )
            .await;
        res.assert_status(200);
        assert_eq!(res.body["counts"]["posts"], 1);
        assert_eq!(res.body["counts"]["comments"], 1);
        let comments = res.body["posts"][0]["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0]["author_id"], bob);
        // And below the API: nothing of alice's is left.
        assert_eq!(profile::Entity::find().count(&db).await.unwrap(), 0);
        assert_eq!(
            post::Entity::find()
                .filter(post::Column::AuthorId.eq(alice))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        assert_eq!(comment::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(
            user_role::Entity::find()
                .filter(user_role::Column::UserId.eq(alice))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        assert!(relata::ops::check::run(&db).await.unwrap().is_clean());
    }
);

db_test!(
    an_assignment_made_by_a_deleted_user_stays_with_assigned_by_null,
    |app| {
        let (_, root_token) = admin(&app).await;
        let (second_admin, second_token) = app.user_with_role("second", "admin").await;
        let (bob, _) = app.user("bob").await;
        let res = app
            .put(
                &format!("/api/v1/users/{bob}/roles/moderator"),
                Some(&second_token),
                json!({}),
            )
            .await;
        res.assert_status(201);
        assert_eq!(res.body["assigned_by"]["id"], second_admin);

        let preview = app
            .request(
                Method::DELETE,
                &format!("/api/v1/users/{second_admin}?dry_run=true"),
                Some(&root_token),
                None,
            )
            .await;
        assert_eq!(preview.body["set_null"]["user_roles.assigned_by"], 1);
        app.delete(&format!("/api/v1/users/{second_admin}"), Some(&root_token))
            .await
            .assert_status(204);

        let res = app
            .get(&format!("/api/v1/users/{bob}/roles"), Some(&root_token))
            .await;
        res.assert_status(200);
        let items = res.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["role"]["name"], "moderator");
        assert_eq!(items[0]["assigned_by"], Value::Null);
    }
);

db_test!(the_last_admin_cannot_be_deleted_or_deactivated, |app| {
    let (root, root_token) = admin(&app).await;
    let path = format!("/api/v1/users/{root}");
    app.request(
        Method::DELETE,
        &format!("{path}?dry_run=true"),
        Some(&root_token),
        None,
    )
    .await
    .assert_problem(409, "last_admin");
    app.delete(&path, Some(&root_token))
        .await
        .assert_problem(409, "last_admin");
    app.patch(&path, Some(&root_token), json!({"is_active": false}))
        .await
        .assert_problem(409, "last_admin");
    app.delete(
        &format!("/api/v1/users/{root}/roles/admin"),
        Some(&root_token),
    )
    .await
    .assert_problem(409, "last_admin");
    // With a second admin, the first may go.
    let (second, _) = app.user_with_role("second", "admin").await;
    app.delete(&path, Some(&root_token))
        .await
        .assert_status(204);
    let _ = second;
});

db_test!(
    users_take_include_and_counts_with_a_fixed_statement_count,
    |app| {
        let (alice, token) = app.user("alice").await;
        let db = app.raw_db().await;
        insert_users(&db, "bulk", 120).await;
        insert_profile(&db, alice).await;
        let p = insert_post(&db, alice).await;
        insert_comment(&db, p, alice).await;

        let res = app
            .get(&format!("/api/v1/users/{alice}?include=profile,posts.comments.author,roles&counts=posts,comments,roles"), Some(&token))
            .await;
        res.assert_status(200);
        assert_eq!(res.body["profile"]["user_id"], alice);
        assert_eq!(res.body["posts"][0]["comments"][0]["author"]["id"], alice);
        assert_eq!(res.body["roles"], json!([]));
        assert_eq!(
            res.body["counts"],
            json!({"posts": 1, "comments": 1, "roles": 0})
        );

        app.get(&format!("/api/v1/users/{alice}?include=roles"), None)
            .await
            .assert_problem(401, "missing_token");
        app.get("/api/v1/users?counts=roles", None)
            .await
            .assert_problem(401, "missing_token");
        let res = app
            .get(&format!("/api/v1/users/{alice}?include=friends"), None)
            .await;
        res.assert_problem(400, "invalid_include");
        assert!(res.body["detail"].as_str().unwrap().contains("profile"));

        let query = "include=profile,posts.comments.author,comments.post,roles&counts=posts,comments,roles&count=true";
        let one = app
            .get(&format!("/api/v1/users?limit=1&{query}"), Some(&token))
            .await;
        let hundred = app
            .get(&format!("/api/v1/users?limit=100&{query}"), Some(&token))
            .await;
        one.assert_status(200);
        hundred.assert_status(200);
        assert_eq!(hundred.body["items"].as_array().unwrap().len(), 100);
        assert_eq!(one.query_count(), hundred.query_count());
        // 2 + token + 7 relations + 3 counts + count=true.
        assert!(
            hundred.query_count() <= 2 + 1 + 7 + 3 + 1,
            "{}",
            hundred.query_count()
        );
        let anonymous_one = app
            .get("/api/v1/users?limit=1&include=profile,posts", None)
            .await;
        let anonymous_hundred = app
            .get("/api/v1/users?limit=100&include=profile,posts", None)
            .await;
        assert_eq!(anonymous_one.query_count(), anonymous_hundred.query_count());
    }
);

/// One row of the matrix: label, method, path, body, and the status expected for
/// [anonymous, another user, the owner, a moderator, an admin].
type Case = (&'static str, Method, String, Option<Value>, [u16; 5]);

/// The callers of the authorization matrix.
struct Actors {
    owner: (i64, String),
    other: String,
    moderator: String,
    admin: String,
}

async fn actors(app: &crate::helpers::TestApp) -> Actors {
    let owner = app.user("owner").await;
    let (_, other) = app.user("other").await;
    let (_, moderator) = app.user_with_role("moder", "moderator").await;
    let (_, admin) = admin(app).await;
    Actors {
        owner,
        other,
        moderator,
        admin,
    }
}

db_test!(the_authorization_matrix_of_every_mutating_endpoint, |app| {
    let a = actors(&app).await;
    let (owner_id, owner) = (a.owner.0, a.owner.1.clone());
    // (label, method, path, body, [anonymous, other, owner, moderator, admin])
    let cases: Vec<Case> = vec![
        (
            "patch user",
            Method::PATCH,
            format!("/api/v1/users/{owner_id}"),
            Some(json!({"display_name": "X"})),
            [401, 403, 200, 403, 200],
        ),
        (
            "delete user (dry run)",
            Method::DELETE,
            format!("/api/v1/users/{owner_id}?dry_run=true"),
            None,
            [401, 403, 200, 403, 200],
        ),
        (
            "create role",
            Method::POST,
            "/api/v1/roles".to_string(),
            Some(json!({"name": "editor"})),
            [401, 403, 403, 403, 201],
        ),
        (
            "patch role",
            Method::PATCH,
            "/api/v1/roles/moderator".to_string(),
            Some(json!({"description": "Keeps order"})),
            [401, 403, 403, 403, 200],
        ),
        (
            "delete role (dry run)",
            Method::DELETE,
            "/api/v1/roles/moderator?dry_run=true".to_string(),
            None,
            [401, 403, 403, 403, 200],
        ),
        (
            "assign role",
            Method::PUT,
            format!("/api/v1/users/{owner_id}/roles/moderator"),
            None,
            [401, 403, 403, 403, 201],
        ),
        (
            "unassign role",
            Method::DELETE,
            format!("/api/v1/users/{owner_id}/roles/moderator"),
            None,
            [401, 403, 403, 403, 204],
        ),
    ];
    for (label, method, path, body, expected) in cases {
        let tokens = [
            None,
            Some(&a.other),
            Some(&owner),
            Some(&a.moderator),
            Some(&a.admin),
        ];
        for (token, want) in tokens.into_iter().zip(expected) {
            let res = app
                .request(
                    method.clone(),
                    &path,
                    token.map(String::as_str),
                    body.clone(),
                )
                .await;
            assert_eq!(
                res.status.as_u16(),
                want,
                "{label} as {}: {}",
                match token {
                    None => "anonymous",
                    Some(t) if t == &a.other => "another user",
                    Some(t) if t == &owner => "the owner",
                    Some(t) if t == &a.moderator => "a moderator",
                    _ => "an admin",
                },
                res.body
            );
        }
    }
    // Logout: anyone with a token, for their own session only.
    app.request(Method::POST, "/api/v1/auth/logout", None, None)
        .await
        .assert_status(401);
    app.request(Method::POST, "/api/v1/auth/logout", Some(&a.other), None)
        .await
        .assert_status(204);
    // Real deletes: another user and a moderator may not, the owner and an admin may.
    let path = format!("/api/v1/users/{owner_id}");
    app.delete(&path, Some(&a.moderator))
        .await
        .assert_status(403);
    app.delete(&path, Some(&owner)).await.assert_status(204);
    let (victim, _) = app.user("victim").await;
    app.delete(&format!("/api/v1/users/{victim}"), Some(&a.admin))
        .await
        .assert_status(204);
});
