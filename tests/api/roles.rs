//! `/roles` and the role assignments, the association object of `user_roles`, reached
//! from both sides.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{admin, insert_users};

db_test!(roles_are_listed_by_name_and_need_a_token, |app| {
    let (_, token) = app.user("alice").await;
    app.get("/api/v1/roles", None)
        .await
        .assert_problem(401, "missing_token");
    app.get("/api/v1/roles/admin", None)
        .await
        .assert_problem(401, "missing_token");
    let res = app.get("/api/v1/roles", Some(&token)).await;
    res.assert_status(200);
    let names: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "moderator"]);
    let role = &res.body["items"][0];
    for field in ["id", "name", "description", "created_at"] {
        assert!(role.get(field).is_some(), "{field} in {role}");
    }
    let first = app.get("/api/v1/roles?limit=1", Some(&token)).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/roles?limit=1&cursor={cursor}"),
            Some(&token),
        )
        .await;
    assert_eq!(second.body["items"][0]["name"], "moderator");
    app.get("/api/v1/roles?cursor=abc", Some(&token))
        .await
        .assert_problem(400, "invalid_cursor");
    app.get("/api/v1/roles/nope", Some(&token))
        .await
        .assert_problem(404, "not_found");
});

db_test!(an_admin_creates_changes_and_deletes_a_role, |app| {
    let (_, token) = admin(&app).await;
    let res = app
        .post(
            "/api/v1/roles",
            Some(&token),
            json!({"name": "editor", "description": "Edits"}),
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.header("location"), Some("/api/v1/roles/editor"));
    assert_eq!(res.body["name"], "editor");
    assert_eq!(res.body["description"], "Edits");
    app.post("/api/v1/roles", Some(&token), json!({"name": "editor"}))
        .await
        .assert_problem(409, "role_exists");
    let res = app
        .post(
            "/api/v1/roles",
            Some(&token),
            json!({"name": "Bad Name", "description": "x".repeat(501)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"].as_array().unwrap().len(), 2);
    app.post(
        "/api/v1/roles",
        Some(&token),
        json!({"description": "no name"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let res = app
        .patch(
            "/api/v1/roles/editor",
            Some(&token),
            json!({"description": "Edits posts"}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["description"], "Edits posts");
    let res = app
        .patch(
            "/api/v1/roles/editor",
            Some(&token),
            json!({"description": null}),
        )
        .await;
    assert_eq!(res.body["description"], Value::Null);
    app.patch(
        "/api/v1/roles/editor",
        Some(&token),
        json!({"name": "other"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.patch(
        "/api/v1/roles/nope",
        Some(&token),
        json!({"description": "x"}),
    )
    .await
    .assert_problem(404, "not_found");

    let (bob, _) = app.user("bob").await;
    app.put(
        &format!("/api/v1/users/{bob}/roles/editor"),
        Some(&token),
        json!({}),
    )
    .await
    .assert_status(201);
    let preview = app
        .request(
            Method::DELETE,
            "/api/v1/roles/editor?dry_run=true",
            Some(&token),
            None,
        )
        .await;
    preview.assert_status(200);
    assert_eq!(
        preview.body,
        json!({"delete": {"roles": 1, "user_roles": 1}, "set_null": {}})
    );
    app.delete("/api/v1/roles/editor", Some(&token))
        .await
        .assert_status(204);
    app.get("/api/v1/roles/editor", Some(&token))
        .await
        .assert_problem(404, "not_found");
    let res = app
        .get(&format!("/api/v1/users/{bob}/roles"), Some(&token))
        .await;
    assert_eq!(res.body["items"], json!([]));
});

db_test!(the_admin_role_cannot_be_deleted, |app| {
    let (_, token) = admin(&app).await;
    app.delete("/api/v1/roles/admin", Some(&token))
        .await
        .assert_problem(409, "protected_role");
    app.request(
        Method::DELETE,
        "/api/v1/roles/admin?dry_run=true",
        Some(&token),
        None,
    )
    .await
    .assert_problem(409, "protected_role");
    app.get("/api/v1/roles/admin", Some(&token))
        .await
        .assert_status(200);
});

db_test!(
    assigning_records_when_and_by_whom_and_a_repeat_changes_nothing,
    |app| {
        let (root, token) = admin(&app).await;
        let (bob, bob_token) = app.user("bob").await;
        let path = format!("/api/v1/users/{bob}/roles/moderator");
        let first = app.put(&path, Some(&token), json!({})).await;
        first.assert_status(201);
        assert_eq!(first.header("location"), Some(path.as_str()));
        assert_eq!(first.body["role"]["name"], "moderator");
        assert_eq!(
            first.body["assigned_by"],
            json!({"id": root, "username": "root"})
        );
        let again = app.put(&path, Some(&token), json!({})).await;
        again.assert_status(200);
        assert_eq!(again.body, first.body);

        // From the user's side and from the role's side, the same association object.
        let from_user = app
            .get(&format!("/api/v1/users/{bob}/roles"), Some(&bob_token))
            .await;
        from_user.assert_status(200);
        assert_eq!(from_user.body["items"], json!([first.body]));
        assert_eq!(from_user.body["next_cursor"], Value::Null);
        let from_role = app
            .get("/api/v1/roles/moderator/users", Some(&bob_token))
            .await;
        from_role.assert_status(200);
        let item = &from_role.body["items"][0];
        assert_eq!(item["user"]["id"], bob);
        assert_eq!(item["user"]["email"], "bob@example.com");
        assert_eq!(item["assigned_at"], first.body["assigned_at"]);
        assert_eq!(item["assigned_by"]["id"], root);
        let mut keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["assigned_at", "assigned_by", "user"]);

        // The assignment lists need a token and take no include.
        app.get(&format!("/api/v1/users/{bob}/roles"), None)
            .await
            .assert_problem(401, "missing_token");
        app.get(
            &format!("/api/v1/users/{bob}/roles?include=role"),
            Some(&token),
        )
        .await
        .assert_problem(400, "invalid_include");
        app.get("/api/v1/users/999/roles", Some(&token))
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/roles/nope/users", Some(&token))
            .await
            .assert_problem(404, "not_found");
        app.put("/api/v1/users/999/roles/moderator", Some(&token), json!({}))
            .await
            .assert_problem(404, "not_found");
        app.put(
            &format!("/api/v1/users/{bob}/roles/nope"),
            Some(&token),
            json!({}),
        )
        .await
        .assert_problem(404, "not_found");
        app.put("/api/v1/users/abc/roles/moderator", Some(&token), json!({}))
            .await
            .assert_problem(400, "invalid_path");

        app.delete(&path, Some(&token)).await.assert_status(204);
        app.delete(&path, Some(&token))
            .await
            .assert_problem(404, "not_found");
    }
);

db_test!(
    roles_include_their_users_with_a_fixed_statement_count,
    |app| {
        let (_, token) = admin(&app).await;
        let db = app.raw_db().await;
        insert_users(&db, "member", 30).await;
        for id in 2..=31 {
            app.grant_in_db(id, "moderator").await;
        }
        let res = app
            .get(
                "/api/v1/roles/moderator?include=users&counts=users&include_limit=5",
                Some(&token),
            )
            .await;
        res.assert_status(200);
        assert_eq!(res.body["users"].as_array().unwrap().len(), 5);
        assert_eq!(res.body["counts"]["users"], 30);
        let cursor = res.body["users_next_cursor"].as_str().unwrap();
        let rest = app
            .get(
                &format!("/api/v1/roles/moderator/users?limit=100&cursor={cursor}"),
                Some(&token),
            )
            .await;
        rest.assert_status(200);
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 25);

        let one = app
            .get(
                "/api/v1/roles?limit=1&include=users&counts=users&count=true",
                Some(&token),
            )
            .await;
        let all = app
            .get(
                "/api/v1/roles?limit=100&include=users&counts=users&count=true",
                Some(&token),
            )
            .await;
        one.assert_status(200);
        all.assert_status(200);
        assert_eq!(one.query_count(), all.query_count());
        let page1 = app
            .get(
                "/api/v1/roles/moderator/users?limit=1&count=true",
                Some(&token),
            )
            .await;
        let page100 = app
            .get(
                "/api/v1/roles/moderator/users?limit=100&count=true",
                Some(&token),
            )
            .await;
        assert_eq!(page1.body["total"], 30);
        assert_eq!(page1.query_count(), page100.query_count());
        app.get("/api/v1/roles/moderator?include=user", Some(&token))
            .await
            .assert_problem(400, "invalid_include");
    }
);

db_test!(
    removing_admin_from_another_admin_works_but_not_from_the_last,
    |app| {
        let (root, token) = admin(&app).await;
        let (second, _) = app.user_with_role("second", "admin").await;
        app.delete(&format!("/api/v1/users/{second}/roles/admin"), Some(&token))
            .await
            .assert_status(204);
        app.delete(&format!("/api/v1/users/{root}/roles/admin"), Some(&token))
            .await
            .assert_problem(409, "last_admin");
    }
);
