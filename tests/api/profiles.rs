//! Profiles through HTTP: the one-to-one side of a user. PUT as a whole replacement (201
//! when it creates, 200 when it replaces), DELETE, both GETs with `include=user`, SPEC §3's
//! statuses and their order, and who may do what. Concurrent first PUTs are in
//! `concurrency.rs`.

use serde_json::json;

use crate::db_test;

fn full_profile() -> serde_json::Value {
    json!({
        "avatar_url": "https://img.example.com/a.png",
        "website": "https://alice.example.com",
        "bio": "Writes about Rust.",
        "location": " Lyon ",
    })
}

db_test!(
    the_first_put_creates_the_profile_and_the_next_replaces_it_whole,
    |app| {
        let (alice, token) = app.seed_user("alice").await;
        let path = format!("/api/v1/users/{alice}/profile");

        let created = app.put(&path, Some(&token), full_profile()).await;

        created.assert_status(201);
        assert_eq!(created.header("location"), Some(path.as_str()));
        assert_eq!(created.body["user_id"], alice);
        assert_eq!(created.body["website"], "https://alice.example.com");
        assert_eq!(created.body["location"], "Lyon");
        let read = app.get(&path, None).await;
        read.assert_status(200);
        assert_eq!(read.body, created.body);

        let replaced = app
            .put(&path, Some(&token), json!({"bio": "New bio"}))
            .await;

        replaced.assert_status(200);
        assert!(replaced.header("location").is_none());
        assert_eq!(
            replaced.body["id"], created.body["id"],
            "the same row, replaced"
        );
        assert_eq!(replaced.body["created_at"], created.body["created_at"]);
        assert_eq!(replaced.body["bio"], "New bio");
        for cleared in ["avatar_url", "website", "location"] {
            assert!(
                replaced.body[cleared].is_null(),
                "{cleared} was left out, so it is empty"
            );
        }
        let by_id = app
            .get(&format!("/api/v1/profiles/{}", created.body["id"]), None)
            .await;
        by_id.assert_status(200);
        assert_eq!(by_id.body, replaced.body);
    }
);

db_test!(
    reading_a_profile_answers_404_for_an_absent_user_or_profile,
    |app| {
        let (alice, _) = app.seed_user("alice").await;
        let res = app
            .get(&format!("/api/v1/users/{alice}/profile"), None)
            .await;
        res.assert_problem(404, "not_found");
        assert_eq!(res.body["detail"], "Profile not found.");
        let res = app.get("/api/v1/users/999/profile", None).await;
        res.assert_problem(404, "not_found");
        assert_eq!(res.body["detail"], "User not found.");
        app.get("/api/v1/profiles/999", None)
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/profiles/x", None)
            .await
            .assert_problem(400, "invalid_path");
        app.get("/api/v1/users/x/profile", None)
            .await
            .assert_problem(400, "invalid_path");
    }
);

db_test!(a_profile_includes_its_user_from_either_side, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let created = app
        .put(
            &format!("/api/v1/users/{alice}/profile"),
            Some(&token),
            full_profile(),
        )
        .await;
    let id = created.body["id"].as_i64().unwrap();

    let res = app
        .get(&format!("/api/v1/profiles/{id}?include=user"), None)
        .await;

    res.assert_status(200);
    assert_eq!(res.body["user"]["id"], alice);
    assert_eq!(res.body["user"]["username"], "alice");
    assert!(res.body["user"].get("email").is_none(), "email is private");
    // The profile with its user joined into one statement.
    assert_eq!(res.query_count(), 1);
    let own = app
        .get(
            &format!("/api/v1/users/{alice}/profile?include=user"),
            Some(&token),
        )
        .await;
    own.assert_status(200);
    assert_eq!(
        own.body["user"]["email"], "alice@example.com",
        "the user sees their email"
    );
    assert_eq!(own.query_count(), 3);
    app.get(&format!("/api/v1/profiles/{id}?include=posts"), None)
        .await
        .assert_problem(400, "invalid_include");
});

db_test!(an_invalid_profile_names_every_bad_field, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let path = format!("/api/v1/users/{alice}/profile");

    let res = app
        .put(
            &path,
            Some(&token),
            json!({
                "avatar_url": "ftp://example.com/a.png",
                "website": format!("https://example.com/{}", "a".repeat(200)),
                "bio": "b".repeat(2_001),
                "location": "l".repeat(101),
            }),
        )
        .await;

    res.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["avatar_url", "website", "bio", "location"]);
    for relative in ["/a.png", "example.com", ""] {
        let res = app
            .put(&path, Some(&token), json!({"website": relative}))
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "website");
    }
    let res = app
        .put(&path, Some(&token), json!({"nickname": "al"}))
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "nickname");
    // At the limits, accepted.
    app.put(
        &path,
        Some(&token),
        json!({
            "avatar_url": format!("https://e.com/{}", "a".repeat(500 - 14)),
            "bio": "b".repeat(2_000),
            "location": "l".repeat(100),
        }),
    )
    .await
    .assert_status(201);
    assert_eq!(app.get(&path, None).await.status, 200);
});

db_test!(putting_a_profile_answers_404_then_403_then_422, |app| {
    let cast = app.seed_cast().await;
    let invalid = json!({"website": "nope"});

    app.put(
        "/api/v1/users/999/profile",
        Some(&cast.admin.1),
        full_profile(),
    )
    .await
    .assert_problem(404, "not_found");
    app.put(
        "/api/v1/users/999/profile",
        Some(&cast.other.1),
        invalid.clone(),
    )
    .await
    .assert_problem(404, "not_found");
    app.put(
        &format!("/api/v1/users/{}/profile", cast.owner.0),
        Some(&cast.other.1),
        invalid.clone(),
    )
    .await
    .assert_problem(403, "forbidden");
    app.put(
        &format!("/api/v1/users/{}/profile", cast.owner.0),
        Some(&cast.owner.1),
        invalid,
    )
    .await
    .assert_problem(422, "validation_failed");
    let res = app
        .client
        .put(app.url("/api/v1/users/999/profile"))
        .bearer_auth(&cast.other.1)
        .header("content-type", "application/xml")
        .body("<profile/>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/profile", cast.owner.0)))
        .bearer_auth(&cast.owner.1)
        .header("content-type", "application/json")
        .body("{\"bio\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    app.put(
        &format!("/api/v1/users/{}/profile", cast.owner.0),
        None,
        full_profile(),
    )
    .await
    .assert_problem(401, "missing_token");
});

db_test!(who_may_put_and_delete_a_profile, |app| {
    let cast = app.seed_cast().await;
    let path = format!("/api/v1/users/{}/profile", cast.owner.0);
    let actors: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("another user", Some(&cast.other.1)),
        ("the user", Some(&cast.owner.1)),
        ("a moderator", Some(&cast.moderator.1)),
        ("an admin", Some(&cast.admin.1)),
    ];
    let put_expected = [401, 403, 201, 403, 201];
    let delete_expected = [401, 403, 204, 403, 204];

    for ((who, token), (put_status, delete_status)) in actors
        .iter()
        .zip(put_expected.into_iter().zip(delete_expected))
    {
        let res = app.put(&path, *token, full_profile()).await;
        assert_eq!(
            res.status.as_u16(),
            put_status,
            "PUT by {who}: {}",
            res.body
        );
        // Make sure a profile exists for the DELETE, whoever could create it.
        app.put(&path, Some(&cast.owner.1), full_profile()).await;
        let res = app.delete(&path, *token).await;
        assert_eq!(
            res.status.as_u16(),
            delete_status,
            "DELETE by {who}: {}",
            res.body
        );
        if delete_status != 204 {
            app.delete(&path, Some(&cast.owner.1))
                .await
                .assert_status(204);
        }
    }
});

db_test!(deleting_a_profile_answers_204_then_404, |app| {
    let (alice, token) = app.seed_user("alice").await;
    let path = format!("/api/v1/users/{alice}/profile");
    app.put(&path, Some(&token), full_profile())
        .await
        .assert_status(201);

    app.delete(&path, Some(&token)).await.assert_status(204);

    app.get(&path, None).await.assert_problem(404, "not_found");
    app.delete(&path, Some(&token))
        .await
        .assert_problem(404, "not_found");
    app.delete("/api/v1/users/999/profile", Some(&token))
        .await
        .assert_problem(404, "not_found");
    // A new PUT creates again.
    app.put(&path, Some(&token), json!({}))
        .await
        .assert_status(201);
});
