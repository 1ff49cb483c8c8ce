//! API 1.2's sessions (SPEC §6, CONDUIT.md): a password change ends every other session of
//! the user on both faces, the token that made it keeps working, credentials change only
//! with proof, and wrong `current_password` guesses are throttled like logins.

use serde_json::json;

use crate::conduit::{get as conduit_get, put as conduit_put, register as conduit_register};
use crate::db_test;
use crate::helpers::{TestApp, admin, login_pair};

/// A Conduit login of `name` (password `password`); its token.
async fn conduit_login(app: &TestApp, name: &str, password: &str) -> String {
    let res = crate::conduit::post(
        app,
        "/api/users/login",
        None,
        json!({"user": {"email": format!("{name}@example.com"), "password": password}}),
    )
    .await;
    res.assert_status(200);
    res.body["user"]["token"].as_str().unwrap().to_string()
}

/// Whether `token` still works on `/api/v1` (200 from `/auth/me`) or is refused (401).
async fn v1_status(app: &TestApp, token: &str) -> u16 {
    app.get("/api/v1/auth/me", Some(token))
        .await
        .status
        .as_u16()
}

/// The same for the Conduit face (`GET /api/user`).
async fn conduit_status(app: &TestApp, token: &str) -> u16 {
    conduit_get(app, "/api/user", Some(token))
        .await
        .status
        .as_u16()
}

db_test!(
    a_password_change_on_api_v1_ends_every_other_session_on_both_faces,
    |app| {
        let id = app.register("alice").await;
        let (changer, changer_refresh) = login_pair(&app, "alice").await;
        let (other, other_refresh) = login_pair(&app, "alice").await;
        let conduit = conduit_login(&app, "alice", "password123").await;

        app.patch(
            &format!("/api/v1/users/{id}"),
            Some(&changer),
            json!({"password": "a new password", "current_password": "password123"}),
        )
        .await
        .assert_status(200);

        assert_eq!(v1_status(&app, &other).await, 401, "the other access token");
        assert_eq!(
            conduit_status(&app, &conduit).await,
            401,
            "the Conduit token"
        );
        assert_eq!(
            v1_status(&app, &changer).await,
            200,
            "the token that changed it"
        );
        let refused = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": other_refresh}),
            )
            .await;
        refused.assert_problem(401, "invalid_token");
        // The changer's own session goes on, refresh included, and so do new logins.
        let renewed = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": changer_refresh}),
            )
            .await;
        renewed.assert_status(200);
        let renewed = renewed.body["access_token"].as_str().unwrap().to_string();
        assert_eq!(v1_status(&app, &renewed).await, 200);
        let fresh = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"login": "alice", "password": "a new password"}),
            )
            .await;
        fresh.assert_status(200);
        let fresh = fresh.body["access_token"].as_str().unwrap().to_string();
        assert_eq!(v1_status(&app, &fresh).await, 200);
        assert_eq!(
            conduit_status(&app, &conduit_login(&app, "alice", "a new password").await).await,
            200
        );
    }
);

db_test!(
    a_conduit_password_change_ends_the_other_sessions_and_keeps_its_token_for_a_second_change,
    |app| {
        let token = conduit_register(&app, "jake").await;
        let other = conduit_login(&app, "jake", "password123").await;
        let v1 = app.login("jake").await;

        conduit_put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"password": "second password"}}),
        )
        .await
        .assert_status(200);
        assert_eq!(conduit_status(&app, &other).await, 401);
        assert_eq!(v1_status(&app, &v1).await, 401);
        assert_eq!(conduit_status(&app, &token).await, 200);

        // The official suite changes the password twice with one token.
        let again = conduit_put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"password": "third password"}}),
        )
        .await;
        again.assert_status(200);
        assert_eq!(again.body["user"]["token"], token.as_str());
        assert_eq!(conduit_status(&app, &token).await, 200);
        let newest = conduit_login(&app, "jake", "third password").await;
        assert_eq!(conduit_status(&app, &newest).await, 200);
    }
);

db_test!(
    an_admin_resetting_a_password_ends_every_session_of_that_user,
    |app| {
        let id = app.register("bob").await;
        let (bob, bob_refresh) = login_pair(&app, "bob").await;
        let bob_conduit = conduit_login(&app, "bob", "password123").await;
        let (_, root) = admin(&app).await;
        app.patch(
            &format!("/api/v1/users/{id}"),
            Some(&root),
            json!({"password": "reset by admin"}),
        )
        .await
        .assert_status(200);
        assert_eq!(v1_status(&app, &bob).await, 401);
        assert_eq!(conduit_status(&app, &bob_conduit).await, 401);
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": bob_refresh}),
        )
        .await
        .assert_status(401);
        assert_eq!(v1_status(&app, &root).await, 200, "the admin's own token");
    }
);

db_test!(changes_that_are_not_the_password_end_no_session, |app| {
    let id = app.register("carol").await;
    let (first, _) = login_pair(&app, "carol").await;
    let (second, _) = login_pair(&app, "carol").await;
    app.patch(
            &format!("/api/v1/users/{id}"),
            Some(&first),
            json!({"display_name": "Carol", "email": "carol@example.org", "current_password": "password123"}),
        )
        .await
        .assert_status(200);
    assert_eq!(v1_status(&app, &second).await, 200);
});

db_test!(
    an_api_v1_token_cannot_change_the_password_or_the_email_under_api,
    |app| {
        let id = app.register("dave").await;
        let v1 = app.login("dave").await;
        for change in [
            json!({"user": {"password": "stolen password"}}),
            json!({"user": {"email": "thief@example.com"}}),
        ] {
            let field = change["user"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            let res = conduit_put(&app, "/api/user", Some(&v1), change).await;
            res.assert_status(403);
            assert!(res.body["errors"][&field].is_array(), "{}", res.body);
        }
        // The other fields still change with it (front-ends send the whole user back).
        let bio = conduit_put(&app, "/api/user", Some(&v1), json!({"user": {"bio": "hi"}})).await;
        bio.assert_status(200);
        assert_eq!(bio.body["user"]["bio"], "hi");
        let me = app.get(&format!("/api/v1/users/{id}"), Some(&v1)).await;
        assert_eq!(me.body["email"], "dave@example.com");
        conduit_login(&app, "dave", "password123").await;
    }
);

db_test!(
    an_email_change_on_api_v1_needs_the_current_password,
    |app| {
        let id = app.register("erin").await;
        let token = app.login("erin").await;
        let path = format!("/api/v1/users/{id}");
        let missing = app
            .patch(&path, Some(&token), json!({"email": "erin@example.org"}))
            .await;
        missing.assert_problem(422, "validation_failed");
        assert_eq!(missing.body["errors"][0]["field"], "current_password");
        app.patch(
            &path,
            Some(&token),
            json!({"email": "erin@example.org", "current_password": "wrong password"}),
        )
        .await
        .assert_problem(403, "wrong_password");
        let changed = app
            .patch(
                &path,
                Some(&token),
                json!({"email": "erin@example.org", "current_password": "password123"}),
            )
            .await;
        changed.assert_status(200);
        assert_eq!(changed.body["email"], "erin@example.org");
        // An admin changes it without.
        let (_, root) = admin(&app).await;
        app.patch(&path, Some(&root), json!({"email": "erin@example.net"}))
            .await
            .assert_status(200);
    }
);

db_test!(
    wrong_current_password_guesses_are_throttled_like_logins,
    |app| {
        let id = app.register("frank").await;
        let token = app.login("frank").await;
        let path = format!("/api/v1/users/{id}");
        for _ in 0..5 {
            app.patch(
                &path,
                Some(&token),
                json!({"password": "new password", "current_password": "a guess"}),
            )
            .await
            .assert_problem(403, "wrong_password");
        }
        let locked = app
            .patch(
                &path,
                Some(&token),
                json!({"password": "new password", "current_password": "password123"}),
            )
            .await;
        locked.assert_problem(429, "rate_limited");
        assert!(locked.header("retry-after").is_some());
        // The guesses count against the account's logins too.
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "frank", "password": "password123"}),
        )
        .await
        .assert_problem(429, "rate_limited");
        // Nothing changed.
        assert_eq!(v1_status(&app, &token).await, 200);
    }
);
