//! Bounded authentication tables (issue 14): expired refresh tokens, revocations of
//! expired access tokens and login attempts older than the throttle window are swept
//! periodically and at start-up, so churn does not make the tables grow for ever.

use std::time::Duration;

use relata::config::Settings;
use relata::entity::{login_attempt, refresh_token, revoked_token, user};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use serde_json::json;

use crate::db_test;
use crate::helpers::login_pair;

/// Rows of (refresh_tokens, revoked_tokens, login_attempts).
async fn auth_rows(db: &DatabaseConnection) -> (u64, u64, u64) {
    (
        refresh_token::Entity::find().count(db).await.unwrap(),
        revoked_token::Entity::find().count(db).await.unwrap(),
        login_attempt::Entity::find().count(db).await.unwrap(),
    )
}

/// Moves every login attempt back by more than the throttle window, as if that much
/// time had passed (the window is SPEC's 15 minutes, too long to wait for in a test).
async fn age_login_attempts(db: &DatabaseConnection) {
    let past = relata::service::auth::FAILED_LOGIN_WINDOW + chrono::Duration::minutes(1);
    for attempt in login_attempt::Entity::find().all(db).await.unwrap() {
        let when = attempt.attempted_at - past;
        let mut row: login_attempt::ActiveModel = attempt.into();
        row.attempted_at = Set(when);
        row.update(db).await.unwrap();
    }
}

fn short_lifetimes(s: &mut Settings) {
    s.access_ttl = Duration::from_secs(1);
    s.refresh_ttl = Duration::from_secs(2);
    s.sweep_interval = Duration::from_secs(1);
}

db_test!(
    churn_leaves_rows_that_the_periodic_sweep_removes,
    settings = short_lifetimes,
    |app| {
        let names = ["ann", "bob", "cat"];
        for name in names {
            app.register(name).await;
        }
        // The most rows seen at once while the churn runs (the sweep runs meanwhile).
        let mut peak = (0, 0, 0);
        for _round in 0..3 {
            for name in names {
                // A session that is refreshed and logged out (one revocation) …
                let (_, refresh) = login_pair(&app, name).await;
                let res = app
                    .post(
                        "/api/v1/auth/refresh",
                        None,
                        json!({"refresh_token": refresh}),
                    )
                    .await;
                res.assert_status(200);
                let token = res.body["access_token"].as_str().unwrap().to_string();
                app.request(
                    reqwest::Method::POST,
                    "/api/v1/auth/logout",
                    Some(&token),
                    None,
                )
                .await
                .assert_status(204);
                // … one that is abandoned (its refresh token stays until it expires) …
                login_pair(&app, name).await;
                // … and two failures, which the next round's success clears.
                for _ in 0..2 {
                    app.post(
                        "/api/v1/auth/login",
                        None,
                        json!({"login": name, "password": "wrong-password"}),
                    )
                    .await
                    .assert_status(401);
                }
                let rows = auth_rows(app.state.store.connection()).await;
                peak = (peak.0.max(rows.0), peak.1.max(rows.1), peak.2.max(rows.2));
            }
        }
        assert!(
            peak.0 >= 2 && peak.1 >= 1 && peak.2 >= 2,
            "churn makes rows: peak (refresh tokens, revocations, attempts) {peak:?}"
        );
        let (_, _, attempts) = auth_rows(app.state.store.connection()).await;
        assert_eq!(attempts, 6, "the last round's failures, inside the window");
        age_login_attempts(app.state.store.connection()).await;
        let mut rows = peak;
        for _ in 0..40 {
            rows = auth_rows(app.state.store.connection()).await;
            if rows == (0, 0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(
            rows,
            (0, 0, 0),
            "(refresh tokens, revocations, attempts) after the sweep"
        );
        assert_eq!(
            user::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            3
        );
        // The accounts still work.
        app.login("ann").await;
    }
);

db_test!(start_up_sweeps_what_expired_while_no_server_ran, |app| {
    let (alice, _) = app.seed_user("alice").await;
    let now = relata::time::now();
    let long_ago = now - chrono::Duration::days(1);
    let soon = now + chrono::Duration::hours(1);
    for (n, expires_at) in [long_ago, soon].into_iter().enumerate() {
        refresh_token::ActiveModel {
            user_id: Set(alice),
            token_hash: Set(format!("hash-{n}")),
            access_jti: Set(format!("jti-{n}")),
            expires_at: Set(expires_at),
            created_at: Set(long_ago),
            ..Default::default()
        }
        .insert(app.state.store.connection())
        .await
        .unwrap();
        revoked_token::ActiveModel {
            jti: Set(format!("jti-{n}")),
            user_id: Set(alice),
            expires_at: Set(expires_at),
        }
        .insert(app.state.store.connection())
        .await
        .unwrap();
    }
    for attempted_at in [long_ago, now] {
        login_attempt::ActiveModel {
            login: Set("alice".into()),
            user_id: Set(Some(alice)),
            attempted_at: Set(attempted_at),
            ..Default::default()
        }
        .insert(app.state.store.connection())
        .await
        .unwrap();
    }
    assert_eq!(auth_rows(app.state.store.connection()).await, (2, 2, 2));
    // A second server starting on the same database, with no periodic sweep due for an hour.
    let mut settings = Settings::for_database(app.database_url.clone());
    settings.jwt_secret = Some("test-secret-test-secret-test-secret".into());
    settings.sweep_interval = Duration::from_secs(3600);
    let second = relata::Application::build(settings).await.unwrap();
    drop(second);
    assert_eq!(
        auth_rows(app.state.store.connection()).await,
        (1, 1, 1),
        "only the expired rows go"
    );
});
