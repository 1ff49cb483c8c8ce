//! Login throttling under concurrency (issue 14): a burst of parallel attempts against one
//! account gets no more password checks than a sequence would, and the check is per
//! account, not a global lock.

use std::collections::BTreeMap;

use relata::entity::{login_attempt, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::db_test;
use crate::helpers::{Res, TestApp};

/// How many answers had each status.
fn tally(answers: &[Res]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for res in answers {
        *counts.entry(res.status.as_u16()).or_default() += 1;
    }
    counts
}

/// Sends `n` logins for `login` with `password`, all at once.
async fn parallel_logins(app: &TestApp, login: &str, password: &str, n: usize) -> Vec<Res> {
    let body = json!({"login": login, "password": password});
    futures::future::join_all((0..n).map(|_| app.post("/api/v1/auth/login", None, body.clone())))
        .await
}

/// `n` parallel wrong passwords for one account: exactly five are verified (401), every
/// other one is 429 with `Retry-After`; afterwards even the right password is 429, and only
/// the five verified failures are recorded.
async fn a_parallel_burst_verifies_at_most_five(app: TestApp, n: usize) {
    app.register("alice").await;
    let answers = parallel_logins(&app, "alice", "wrong-password", n).await;
    let counts = tally(&answers);
    assert_eq!(
        counts,
        BTreeMap::from([(401, 5), (429, n - 5)]),
        "{n} parallel wrong passwords"
    );
    for res in answers.iter().filter(|r| r.status == 429) {
        res.assert_problem(429, "rate_limited");
        let retry: u64 = res
            .header("retry-after")
            .expect("Retry-After on a 429")
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "Retry-After {retry}");
    }
    for login in ["alice", "ALICE@example.com"] {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"login": login, "password": "password123"}),
        )
        .await
        .assert_problem(429, "rate_limited");
    }
    let recorded = login_attempt::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(recorded, 5, "refused attempts are not recorded");
}

db_test!(twenty_parallel_wrong_passwords_verify_at_most_five, |app| {
    a_parallel_burst_verifies_at_most_five(app, 20).await;
});

db_test!(
    a_hundred_parallel_wrong_passwords_verify_at_most_five,
    |app| {
        a_parallel_burst_verifies_at_most_five(app, 100).await;
    }
);

db_test!(
    parallel_attempts_through_username_and_email_share_one_allowance,
    |app| {
        app.register("alice").await;
        let body = |login: &str| json!({"login": login, "password": "wrong-password"});
        let answers = futures::future::join_all((0..20).map(|i| {
            let login = if i % 2 == 0 {
                "alice"
            } else {
                "alice@example.com"
            };
            app.post("/api/v1/auth/login", None, body(login))
        }))
        .await;
        assert_eq!(tally(&answers), BTreeMap::from([(401, 5), (429, 15)]));
    }
);

db_test!(
    fifty_parallel_logins_for_fifty_accounts_all_succeed,
    |app| {
        // Real hashes, made once: fifty argon2 hashes would dominate the test's time.
        crate::helpers::insert_users(app.state.store.connection(), "member", 50).await;
        let password = relata::domain::password::Password::parse("password123").unwrap();
        let hash = app.state.passwords.hash(&password).await.unwrap();
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .filter(user::Column::Username.starts_with("member"))
            .exec(app.state.store.connection())
            .await
            .unwrap();
        // A throttled account meanwhile does not hold the others up.
        app.register("victim").await;
        let (burst, logins) = futures::join!(
            parallel_logins(&app, "victim", "wrong-password", 20),
            futures::future::join_all((0..50).map(|i| {
                app.post(
                    "/api/v1/auth/login",
                    None,
                    json!({"login": format!("member{i}"), "password": "password123"}),
                )
            }))
        );
        assert_eq!(
            tally(&logins),
            BTreeMap::from([(200, 50)]),
            "{:?}",
            logins
                .iter()
                .map(|r| r.body.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(tally(&burst), BTreeMap::from([(401, 5), (429, 15)]));
    }
);
