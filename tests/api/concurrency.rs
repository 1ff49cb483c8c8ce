//! Races settled by the database (issue 8): many requests sent at once, on SQLite and on
//! PostgreSQL, must each get the answer SPEC gives a lone request, leave one row where one
//! row belongs, and never surface a 5xx or SQLite's "database is locked".

use std::collections::BTreeMap;

use relata::entity::{comment, post, profile, user, user_role};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::db_test;
use crate::helpers::Res;
use crate::helpers::admin;

/// How many answers had each status.
fn tally(answers: &[Res]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for res in answers {
        *counts.entry(res.status.as_u16()).or_default() += 1;
    }
    counts
}

/// Every body, for assertion messages.
fn bodies(answers: &[Res]) -> Vec<String> {
    answers.iter().map(|r| r.body.to_string()).collect()
}

/// Sends every request of `requests` at once and waits for all the answers.
async fn all_at_once<F>(requests: impl IntoIterator<Item = F>) -> Vec<Res>
where
    F: std::future::Future<Output = Res>,
{
    futures::future::join_all(requests).await
}

db_test!(
    thirty_simultaneous_registrations_of_one_username_make_one_account,
    |app| {
        // The same name in several cases: uniqueness is case-insensitive under a race too.
        let answers = all_at_once((0..30).map(|i| {
            let username = if i % 2 == 0 { "racer" } else { "Racer" };
            let body = json!({
                "username": username,
                "email": format!("racer{i}@example.com"),
                "password": "password123",
            });
            app.post("/api/v1/auth/register", None, body)
        }))
        .await;

        let counts = tally(&answers);
        assert_eq!(
            counts,
            BTreeMap::from([(201, 1), (409, 29)]),
            "{:?}",
            bodies(&answers)
        );
        for res in answers.iter().filter(|r| r.status == 409) {
            res.assert_problem(409, "username_taken");
        }
        let rows = user::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }
);

db_test!(
    thirty_simultaneous_first_profile_puts_leave_one_row_and_one_201,
    |app| {
        let (alice, token) = app.seed_user("alice").await;
        let path = format!("/api/v1/users/{alice}/profile");

        let answers = all_at_once((0..30).map(|i| {
            let body = json!({"bio": format!("writer {i}")});
            let (path, token) = (path.clone(), token.clone());
            let app = &app;
            async move { app.put(&path, Some(&token), body).await }
        }))
        .await;

        assert_eq!(
            tally(&answers),
            BTreeMap::from([(200, 29), (201, 1)]),
            "{:?}",
            bodies(&answers)
        );
        let rows = profile::Entity::find()
            .filter(profile::Column::UserId.eq(alice))
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(rows, 1);
        let ids: std::collections::HashSet<i64> = answers
            .iter()
            .map(|r| r.body["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "every answer shows the one row");
    }
);

db_test!(
    fifty_simultaneous_writers_are_all_served_without_a_lock_error,
    |app| {
        let mut writers = Vec::new();
        for name in ["w0", "w1", "w2", "w3", "w4"] {
            writers.push(app.seed_user(name).await);
        }
        let (owner, owner_token) = writers[0].clone();
        let target = app.seed_post(owner, "edited by many").await;

        // 20 new posts and 20 new comments by five users, and 10 edits of one post (a read
        // then a write in one transaction, the case SQLite refuses with "database is
        // locked" when two such transactions overlap), all at once.
        let write = |i: usize| {
            let app = &app;
            let (_, token) = writers[i % writers.len()].clone();
            let owner_token = owner_token.clone();
            async move {
                match i % 5 {
                    0 | 1 => {
                        app.post(
                            "/api/v1/posts",
                            Some(&token),
                            json!({"title": format!("post {i}"), "content": "load"}),
                        )
                        .await
                    }
                    2 | 3 => {
                        app.post(
                            &format!("/api/v1/posts/{target}/comments"),
                            Some(&token),
                            json!({"body": format!("comment {i}")}),
                        )
                        .await
                    }
                    _ => {
                        app.patch(
                            &format!("/api/v1/posts/{target}"),
                            Some(&owner_token),
                            json!({"title": format!("edit {i}")}),
                        )
                        .await
                    }
                }
            }
        };
        let answers = all_at_once((0..50).map(write)).await;

        for res in &answers {
            assert!(
                !res.body.to_string().to_lowercase().contains("locked"),
                "{}",
                res.body
            );
        }
        assert_eq!(
            tally(&answers),
            BTreeMap::from([(200, 10), (201, 40)]),
            "{:?}",
            bodies(&answers)
        );
        let db = app.state.store.connection();
        assert_eq!(post::Entity::find().count(db).await.unwrap(), 21);
        assert_eq!(comment::Entity::find().count(db).await.unwrap(), 20);
    }
);

db_test!(
    assigning_one_role_twice_at_once_answers_one_201_and_one_200,
    |app| {
        let (_, token) = admin(&app).await;
        // Several rounds, each on a fresh user, so that the two PUTs really overlap in
        // at least some of them.
        for round in 0..5 {
            let (user_id, _) = app.seed_user(&format!("member{round}")).await;
            let path = format!("/api/v1/users/{user_id}/roles/moderator");
            let answers = all_at_once(
                (0..2).map(|_| app.request(reqwest::Method::PUT, &path, Some(&token), None)),
            )
            .await;
            assert_eq!(
                tally(&answers),
                BTreeMap::from([(200, 1), (201, 1)]),
                "{:?}",
                bodies(&answers)
            );
            assert_eq!(
                answers[0].body, answers[1].body,
                "both answers show the one assignment"
            );
            let rows = user_role::Entity::find()
                .filter(user_role::Column::UserId.eq(user_id))
                .count(app.state.store.connection())
                .await
                .unwrap();
            assert_eq!(rows, 1);
        }
    }
);

db_test!(
    forty_simultaneous_reads_on_one_pooled_connection_all_answer,
    settings = |s| s.max_connections = 1,
    |app| {
        // On PostgreSQL a read holds one connection of the read pool for its request, and
        // a token request checks out twice in turn (token check, then handler): with a
        // pool of one, a request that held two at once would wait on itself forever.
        let (author, token) = app.seed_user_with_role("reader", "admin").await;
        let post = app.seed_post(author, "one post").await;
        app.seed_comment(post, author).await;
        let paths = [
            "/api/v1/users?limit=5&include=profile,roles,posts&counts=posts".to_string(),
            format!("/api/v1/posts/{post}?include=author.profile,comments.author"),
            format!("/api/v1/users/{author}/posts?limit=5&counts=comments"),
        ];
        let requests = (0..40).map(|i| app.get(&paths[i % paths.len()], Some(&token)));
        let answers =
            tokio::time::timeout(std::time::Duration::from_secs(20), all_at_once(requests))
                .await
                .expect("every read answers within 20 s");
        assert_eq!(
            tally(&answers),
            BTreeMap::from([(200, 40)]),
            "{:#?}",
            bodies(&answers)
        );
    }
);
