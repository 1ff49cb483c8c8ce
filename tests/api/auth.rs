//! `/auth`: registration, login, tokens (tampering, algorithms, expiry, revocation,
//! rotation), throttling, and deactivated accounts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::login_pair;
use crate::helpers::{Backend, TestApp};

const SECRET: &[u8] = b"test-secret-test-secret-test-secret";

fn register_body(username: &str) -> Value {
    json!({"username": username, "email": format!("{username}@example.com"), "password": "password123"})
}

db_test!(
    registering_answers_201_with_location_and_the_user_with_email,
    |app| {
        let res = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "Alice", "email": "Alice@Example.com", "password": "password123", "display_name": "  Alice A.  "}),
            )
            .await;
        res.assert_status(201);
        let id = res.body["id"].as_i64().unwrap();
        assert_eq!(
            res.header("location"),
            Some(format!("/api/v1/users/{id}").as_str())
        );
        assert_eq!(res.body["username"], "Alice");
        assert_eq!(res.body["email"], "alice@example.com");
        assert_eq!(res.body["display_name"], "Alice A.");
        assert_eq!(res.body["is_active"], true);
        assert!(res.body["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(res.body.get("password_hash").is_none());
    }
);

db_test!(
    usernames_are_unique_case_insensitively_and_emails_by_lower_case,
    |app| {
        app.register("alice").await;
        let res = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "ALICE", "email": "other@example.com", "password": "password123"}),
            )
            .await;
        res.assert_problem(409, "username_taken");
        let res = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "bob", "email": "ALICE@example.com", "password": "password123"}),
            )
            .await;
        res.assert_problem(409, "email_taken");
        assert!(!res.body.to_string().contains("UNIQUE"), "{}", res.body);
    }
);

db_test!(registration_names_every_invalid_field, |app| {
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "a b", "email": "nope", "password": "short"}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "email", "password"]);
    let res = app.post("/api/v1/auth/register", None, json!({})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"].as_array().unwrap().len(), 3);
});

fn refused_fields(res: &crate::helpers::Res) -> Vec<String> {
    res.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("a field").to_string())
        .collect()
}

db_test!(
    one_422_names_unknown_fields_wrongly_typed_ones_and_invalid_ones_together,
    |app| {
        let res = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "a b", "email": 42, "is_admin": true, "role": "admin"}),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(
            refused_fields(&res),
            ["is_admin", "role", "email", "username", "password"],
            "{}",
            res.body
        );
        let res = app
            .post("/api/v1/auth/login", None, json!({"extra": 1}))
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(refused_fields(&res), ["extra", "login", "password"]);
        let res = app
            .post("/api/v1/auth/refresh", None, json!({"refresh_token": null}))
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(refused_fields(&res), ["refresh_token"]);
        // Nothing was created by the refused registration.
        app.post("/api/v1/auth/register", None, register_body("ab_c"))
            .await
            .assert_status(201);
    }
);

db_test!(
    a_registration_body_of_the_wrong_form_gets_415_413_400_or_422,
    |app| {
        let path = "/api/v1/auth/register";
        let body = serde_json::to_vec(&register_body("alice")).unwrap();
        app.send_raw(Method::POST, path, Some("text/plain"), body.clone())
            .await
            .assert_problem(415, "unsupported_media_type");
        app.send_raw(Method::POST, path, None, body)
            .await
            .assert_problem(415, "unsupported_media_type");
        let huge = format!(
            "{{\"username\":\"alice\",\"email\":\"a@b.co\",\"password\":\"{}\"}}",
            "x".repeat(1024 * 1024 + 1)
        );
        app.send_raw(
            Method::POST,
            path,
            Some("application/json"),
            huge.into_bytes(),
        )
        .await
        .assert_status(413);
        app.send_raw(
            Method::POST,
            path,
            Some("application/json"),
            b"{\"username\":".to_vec(),
        )
        .await
        .assert_problem(400, "malformed_json");
        let mut unknown = register_body("alice");
        unknown["is_admin"] = json!(true);
        let res = app.post(path, None, unknown).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "is_admin");
        let mut wrong_type = register_body("alice");
        wrong_type["username"] = json!(42);
        let res = app.post(path, None, wrong_type).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "username");
    }
);

db_test!(
    logging_in_by_username_or_email_returns_a_bearer_pair,
    |app| {
        app.register("alice").await;
        for login in ["alice", "ALICE", "Alice@Example.com"] {
            let res = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"login": login, "password": "password123"}),
                )
                .await;
            res.assert_status(200);
            assert_eq!(res.body["token_type"], "Bearer");
            assert_eq!(res.body["expires_in"], 900);
            assert_eq!(res.body["refresh_token"].as_str().unwrap().len(), 64);
            let token = res.body["access_token"].as_str().unwrap();
            app.get("/api/v1/auth/me", Some(token))
                .await
                .assert_status(200);
        }
    }
);

db_test!(
    an_unknown_user_and_a_wrong_password_get_the_same_answer,
    |app| {
        app.register("alice").await;
        let wrong = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"login": "alice", "password": "wrong-password"}),
            )
            .await;
        let unknown = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"login": "nobody", "password": "wrong-password"}),
            )
            .await;
        wrong.assert_problem(401, "invalid_credentials");
        unknown.assert_problem(401, "invalid_credentials");
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    }
);

db_test!(
    the_sixth_login_after_five_failures_is_refused_with_429,
    |app| {
        app.register("alice").await;
        for _ in 0..5 {
            app.post(
                "/api/v1/auth/login",
                None,
                json!({"login": "alice", "password": "wrong-password"}),
            )
            .await
            .assert_problem(401, "invalid_credentials");
        }
        // Even the right password, and through the account's other login.
        for login in ["alice", "alice@example.com"] {
            let res = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"login": login, "password": "password123"}),
                )
                .await;
            res.assert_problem(429, "rate_limited");
            let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=900).contains(&retry), "Retry-After {retry}");
        }
        // Another account is not affected.
        app.register("bob").await;
        app.login("bob").await;
    }
);

db_test!(failures_for_unknown_logins_are_throttled_too, |app| {
    for _ in 0..5 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "ghost", "password": "wrong-password"}),
        )
        .await
        .assert_status(401);
    }
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"login": "GHOST", "password": "wrong-password"}),
    )
    .await
    .assert_problem(429, "rate_limited");
});

db_test!(a_success_clears_the_failures_of_a_login, |app| {
    app.register("alice").await;
    for _ in 0..4 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "alice", "password": "wrong-password"}),
        )
        .await
        .assert_status(401);
    }
    app.login("alice").await;
    for _ in 0..4 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "alice", "password": "wrong-password"}),
        )
        .await
        .assert_status(401);
    }
    app.login("alice").await;
});

db_test!(
    a_deactivated_user_cannot_log_in_and_loses_access_at_once,
    |app| {
        let (_, admin) = crate::helpers::admin(&app).await;
        let alice = app.register("alice").await;
        let (token, refresh) = login_pair(&app, "alice").await;
        app.patch(
            &format!("/api/v1/users/{alice}"),
            Some(&admin),
            json!({"is_active": false}),
        )
        .await
        .assert_status(200);
        app.get("/api/v1/auth/me", Some(&token))
            .await
            .assert_status(401);
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await
        .assert_status(401);
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "alice", "password": "password123"}),
        )
        .await
        .assert_problem(403, "account_disabled");
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": "alice", "password": "wrong-password"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
);

db_test!(me_needs_a_token_and_shows_the_callers_email, |app| {
    let (id, token) = app.user("alice").await;
    app.get("/api/v1/auth/me", None)
        .await
        .assert_problem(401, "missing_token");
    let res = app
        .get(
            "/api/v1/auth/me?include=roles,profile&counts=posts",
            Some(&token),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["id"], id);
    assert_eq!(res.body["email"], "alice@example.com");
    assert_eq!(res.body["roles"], json!([]));
    assert_eq!(res.body["profile"], Value::Null);
    assert_eq!(res.body["counts"]["posts"], 0);
    app.get("/api/v1/auth/me?include=nope", Some(&token))
        .await
        .assert_problem(400, "invalid_include");
    app.get("/api/v1/auth/me", Some("not-a-jwt"))
        .await
        .assert_problem(401, "invalid_token");
});

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

db_test!(tampered_and_foreign_tokens_are_refused, |app| {
    let (alice, token) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let mut claims = claims_of(&token);
    assert_eq!(claims["sub"], alice.to_string());
    for key in ["exp", "iat", "jti"] {
        assert!(claims.get(key).is_some(), "claim {key}");
    }

    // Bob's id in Alice's token, with Alice's signature.
    claims["sub"] = json!(bob.to_string());
    let parts: Vec<&str> = token.split('.').collect();
    let swapped = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    // `alg: none`, no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    // HS512 with the right secret: still not the one algorithm accepted.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    // An RS256 header over an HS256 signature (algorithm confusion).
    let rs256 = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        parts[1],
        parts[2]
    );
    // HS256 with another secret.
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret"),
    )
    .unwrap();
    let flipped = {
        let mut t = token.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    for bad in [swapped, none, hs512, rs256, other_secret, flipped] {
        let res = app.get("/api/v1/auth/me", Some(&bad)).await;
        res.assert_problem(401, "invalid_token");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }
    app.get("/api/v1/auth/me", Some(&token))
        .await
        .assert_status(200);
});

db_test!(an_expired_token_is_refused, |app| {
    let (alice, _) = app.user("alice").await;
    let now = relata::jwt::unix_now();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": alice.to_string(), "iat": now - 1000, "exp": now - 100, "jti": "x"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    app.get("/api/v1/auth/me", Some(&expired))
        .await
        .assert_problem(401, "token_expired");
});

db_test!(the_tokens_of_a_deleted_user_are_refused, |app| {
    let (alice, _) = app.user("alice").await;
    let (access, refresh) = login_pair(&app, "alice").await;
    app.delete(&format!("/api/v1/users/{alice}"), Some(&access))
        .await
        .assert_status(204);
    // A signature that is still valid, for a user who is gone.
    app.get("/api/v1/auth/me", Some(&access))
        .await
        .assert_problem(401, "invalid_token");
    app.get("/api/v1/posts", Some(&access))
        .await
        .assert_problem(401, "invalid_token");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .assert_problem(401, "invalid_token");
    // A well-signed token naming a user id that never existed.
    let now = relata::jwt::unix_now();
    let ghost = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "987654", "iat": now, "exp": now + 600, "jti": "ghost"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    app.get("/api/v1/auth/me", Some(&ghost))
        .await
        .assert_problem(401, "invalid_token");
});

async fn tokens_expire_after_the_configured_lifetime(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.access_ttl = std::time::Duration::from_secs(1)
    })
    .await
    else {
        return;
    };
    let (_, token) = app.user("alice").await;
    let res = app.get("/api/v1/auth/me", Some(&token)).await;
    res.assert_status(200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.get("/api/v1/auth/me", Some(&token))
        .await
        .assert_problem(401, "token_expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_after_the_configured_lifetime_sqlite() {
    tokens_expire_after_the_configured_lifetime(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
async fn tokens_expire_after_the_configured_lifetime_postgres() {
    assert!(
        std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()),
        "{}",
        crate::helpers::NEEDS_POSTGRES
    );
    tokens_expire_after_the_configured_lifetime(Backend::Postgres).await;
}

db_test!(
    logout_revokes_the_access_token_and_its_refresh_token,
    |app| {
        app.register("alice").await;
        let (token, refresh) = login_pair(&app, "alice").await;
        let (other_session, _) = login_pair(&app, "alice").await;
        app.request(Method::POST, "/api/v1/auth/logout", None, None)
            .await
            .assert_problem(401, "missing_token");
        let res = app
            .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
            .await;
        res.assert_status(204);
        app.get("/api/v1/auth/me", Some(&token))
            .await
            .assert_problem(401, "invalid_token");
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await
        .assert_problem(401, "invalid_token");
        // Another session of the same user goes on.
        app.get("/api/v1/auth/me", Some(&other_session))
            .await
            .assert_status(200);
        // Every process agrees: the revocation is in the database.
        use sea_orm::{EntityTrait, PaginatorTrait};
        let db = app.raw_db().await;
        assert_eq!(
            relata::entity::revoked_token::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            1
        );
    }
);

db_test!(refresh_tokens_rotate_and_a_used_one_is_refused, |app| {
    app.register("alice").await;
    let (_, first) = login_pair(&app, "alice").await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await;
    res.assert_status(200);
    let second = res.body["refresh_token"].as_str().unwrap().to_string();
    let access = res.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    app.get("/api/v1/auth/me", Some(&access))
        .await
        .assert_status(200);
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": first}),
    )
    .await
    .assert_problem(401, "invalid_token");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": second}),
    )
    .await
    .assert_status(200);
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "garbage"}),
    )
    .await
    .assert_problem(401, "invalid_token");
    app.post("/api/v1/auth/refresh", None, json!({}))
        .await
        .assert_problem(422, "validation_failed");
    // Only digests are stored.
    use sea_orm::EntityTrait;
    let db = app.raw_db().await;
    for row in relata::entity::refresh_token::Entity::find()
        .all(&db)
        .await
        .unwrap()
    {
        assert_ne!(row.token_hash, second);
        assert_eq!(row.token_hash.len(), 64);
    }
});

/// Runs the `relata` binary against the test's database, feeding `stdin`.
async fn relata_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_relata"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the relata binary starts");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

db_test!(the_cli_creates_an_admin_and_grants_roles, |app| {
    let out = relata_cli(
        &app,
        &[
            "admin",
            "create",
            "--username",
            "chief",
            "--email",
            "Chief@Example.com",
            "--password-stdin",
        ],
        "password123\n",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let token = app.login("chief").await;
    let me = app.get("/api/v1/auth/me?include=roles", Some(&token)).await;
    assert_eq!(me.body["id"], id);
    assert_eq!(me.body["email"], "chief@example.com");
    assert_eq!(me.body["roles"][0]["role"]["name"], "admin");

    let again = relata_cli(
        &app,
        &[
            "admin",
            "create",
            "--username",
            "CHIEF",
            "--email",
            "x@example.com",
            "--password-stdin",
        ],
        "password123\n",
    )
    .await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"));

    let bob = app.register("bob").await;
    let out = relata_cli(&app, &["admin", "grant", "Bob", "moderator"], "").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app
        .get(&format!("/api/v1/users/{bob}/roles"), Some(&token))
        .await;
    assert_eq!(res.body["items"][0]["role"]["name"], "moderator");
    assert_eq!(res.body["items"][0]["assigned_by"], Value::Null);
    let out = relata_cli(&app, &["admin", "grant", "bob", "nope"], "").await;
    assert!(!out.status.success());
});
