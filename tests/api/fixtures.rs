//! Rows arranged below the API: many users at once (no argon2 per user), and the posts,
//! comments and profiles whose endpoints live in another module.

#![allow(dead_code)]

use relata::entity::{comment, post, profile, user};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait};

use crate::helpers::TestApp;

/// Inserts `n` users named `{prefix}{i}` in one transaction; their password hash is not
/// a real hash, so they cannot log in.
pub async fn insert_users(db: &DatabaseConnection, prefix: &str, n: usize) {
    let now = relata::time::now();
    let txn = db.begin().await.expect("a transaction");
    let rows: Vec<user::ActiveModel> = (0..n)
        .map(|i| user::ActiveModel {
            username: Set(format!("{prefix}{i}")),
            email: Set(format!("{prefix}{i}@example.com")),
            password_hash: Set("not-a-hash".to_string()),
            display_name: Set(None),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    user::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await
        .expect("inserting users");
    txn.commit().await.expect("committing users");
}

pub async fn insert_post(db: &DatabaseConnection, author: i64) -> i64 {
    let now = relata::time::now();
    post::ActiveModel {
        author_id: Set(author),
        title: Set("A title".into()),
        content: Set("Some content".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("inserting a post")
    .id
}

pub async fn insert_comment(db: &DatabaseConnection, post: i64, author: i64) -> i64 {
    let now = relata::time::now();
    comment::ActiveModel {
        post_id: Set(post),
        author_id: Set(author),
        body: Set("A comment".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("inserting a comment")
    .id
}

pub async fn insert_profile(db: &DatabaseConnection, user_id: i64) -> i64 {
    let now = relata::time::now();
    profile::ActiveModel {
        user_id: Set(user_id),
        bio: Set(Some("Hello".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("inserting a profile")
    .id
}

/// An admin named `root`: (id, access token).
pub async fn admin(app: &TestApp) -> (i64, String) {
    app.user_with_role("root", "admin").await
}

/// The access and refresh tokens of a fresh login with `password123`.
pub async fn login_pair(app: &TestApp, login: &str) -> (String, String) {
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"login": login, "password": "password123"}),
        )
        .await;
    res.assert_status(200);
    (
        res.body["access_token"].as_str().unwrap().to_string(),
        res.body["refresh_token"].as_str().unwrap().to_string(),
    )
}
