//! Test harness: `TestApp` starts the real application on port 0 against its own fresh
//! database — a temporary SQLite file, or a PostgreSQL database created for the test and
//! dropped after it — and offers typed helpers for the calls tests make.
//!
//! `db_test!` writes each test twice, `<name>::sqlite` and `<name>::postgres`. The
//! PostgreSQL one is `#[ignore]`d, so that a plain `cargo test` reports it as ignored
//! rather than passed without running; `cargo test -- --include-ignored` with
//! `TEST_DATABASE_URL` set runs it (and fails without it), which `.ci/run` does.

#![allow(dead_code)]

use std::net::SocketAddr;

use relata::config::Settings;
use relata::http::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why an ignored PostgreSQL test that was asked for cannot run.
pub const NEEDS_POSTGRES: &str =
    "TEST_DATABASE_URL must name a PostgreSQL server to run the PostgreSQL tests";

/// Writes one async test body as two tests, one per database.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await.expect("sqlite always runs");
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await.expect($crate::helpers::NEEDS_POSTGRES);
                run(app).await;
            }
        }
    };
    // With the settings adjusted first (a short lifetime, say), as in `spawn_with`.
    ($name:ident, settings = $tweak:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $tweak).await.expect("sqlite always runs");
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs TEST_DATABASE_URL; run with -- --include-ignored"]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $tweak).await.expect($crate::helpers::NEEDS_POSTGRES);
                run(app).await;
            }
        }
    };
}

/// Drops the test's PostgreSQL database (or removes the SQLite directory) at the end.
enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Dropping needs async I/O; do it on a thread of its own so that it also works
            // while the test's runtime is shutting down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let db = sea_orm::Database::connect(&admin_url).await.ok()?;
                    use sea_orm::ConnectionTrait;
                    db.execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// The application under test, listening on a free port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub database_url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    _guard: DbGuard,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A response: status, headers and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    /// Reads a response whole: its status, headers, and body as JSON (`null` when the
    /// body is not JSON).
    pub async fn read(res: reqwest::Response) -> Res {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap_or_default();
        Res {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-Query-Count` as a number.
    pub fn query_count(&self) -> usize {
        self.header("x-query-count")
            .and_then(|v| v.parse().ok())
            .expect("X-Query-Count on every /api/v1 response")
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts a problem+json error with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status, "body: {}", self.body);
        self
    }
}

/// `TEST_READ_REPLICAS`: comma-separated URLs of streaming replicas of the
/// `TEST_DATABASE_URL` server (docs/replicas.md, "Tests"), each pointed at the test's own
/// database, so that the PostgreSQL half runs with its reads on replicas.
fn test_read_replicas(database: &str) -> Vec<String> {
    std::env::var("TEST_READ_REPLICAS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| replace_database(u, database))
        .collect()
}

static PG_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl TestApp {
    /// Starts the application on a fresh database; `None` for PostgreSQL when
    /// `TEST_DATABASE_URL` is unset.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the settings adjusted by `tweak` (a short token
    /// lifetime, say).
    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        Self::spawn_prepared(backend, tweak, |_| async {}).await
    }

    /// Like [`TestApp::spawn_with`], running `prepare` on the fresh database (given its
    /// URL) before the application starts and migrates it: an upgrade test lays down an
    /// older schema and rows there.
    pub async fn spawn_prepared<F: std::future::Future<Output = ()>>(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        prepare: impl FnOnce(String) -> F,
    ) -> Option<TestApp> {
        let (database_url, guard) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("relata.db").display());
                (url, DbGuard::Sqlite(dir))
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL")
                    .ok()
                    .filter(|u| !u.is_empty())?;
                let name = format!(
                    "relata_test_{}_{}_{}",
                    std::process::id(),
                    PG_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    relata::jwt::random_hex(4)
                );
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL answers");
                use sea_orm::ConnectionTrait;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("creating the test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                (url, DbGuard::Postgres { admin_url, name })
            }
        };
        prepare(database_url.clone()).await;
        let mut settings = Settings::for_database(database_url.clone());
        settings.jwt_secret = Some("test-secret-test-secret-test-secret".to_string());
        settings.max_connections = 5;
        if let DbGuard::Postgres { name, .. } = &guard {
            settings.read_replicas = test_read_replicas(name);
        }
        tweak(&mut settings);
        let app = relata::Application::build(settings)
            .await
            .expect("the application starts");
        let addr = app.address();
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(5),
        ));
        Some(TestApp {
            addr,
            backend,
            database_url,
            state,
            client: reqwest::Client::builder().build().expect("an HTTP client"),
            _guard: guard,
            _shutdown: tx,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; `path` is relative to the server (e.g. `/api/v1/posts`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Res::read(req.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Res {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Res {
        let mut req = self.client.request(method, self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Res::read(req.send().await.expect("the server answers")).await
    }

    /// A second connection to the test's database, for arranging and inspecting rows
    /// below the API.
    pub async fn raw_db(&self) -> sea_orm::DatabaseConnection {
        relata::store::connect(&self.database_url, 2)
            .await
            .expect("the test database answers")
    }

    /// Registers a user whose password is `password123`; returns their id.
    pub async fn register(&self, username: &str) -> i64 {
        let res = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": username, "email": format!("{username}@example.com"), "password": "password123"}),
            )
            .await;
        res.assert_status(201);
        res.body["id"].as_i64().expect("the new user's id")
    }

    /// Logs a user in with `password123`; returns the access token.
    pub async fn login(&self, username: &str) -> String {
        login_pair(self, username).await.0
    }

    /// Registers and logs in; returns (id, access token).
    pub async fn user(&self, username: &str) -> (i64, String) {
        let id = self.register(username).await;
        (id, self.login(username).await)
    }

    /// Registers a user, gives them `role` directly in the database, and logs them in.
    pub async fn user_with_role(&self, username: &str, role: &str) -> (i64, String) {
        let id = self.register(username).await;
        self.grant_in_db(id, role).await;
        (id, self.login(username).await)
    }

    /// Inserts a `user_roles` row below the API.
    pub async fn grant_in_db(&self, user_id: i64, role: &str) {
        insert_assignment(&self.raw_db().await, user_id, role, None).await;
    }
}

fn replace_database(url: &str, name: &str) -> String {
    // postgres://user@host:port/db?params → same with another db
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let root = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Users and tokens made below the API, for tests of resources that do not go through
/// `/auth` (kept in their own block so that it merges cleanly with the auth work).
impl TestApp {
    /// Inserts an active user row and mints a 15-minute access token for it; returns
    /// (id, token).
    pub async fn seed_user(&self, username: &str) -> (i64, String) {
        let id = insert_user(self.state.store.connection(), username).await;
        let (token, _, _) =
            relata::jwt::issue_access_token(&self.state.jwt, id, 0, 900).expect("signing a token");
        (id, token)
    }

    /// [`TestApp::seed_user`] holding `role` (`admin`, `moderator`).
    pub async fn seed_user_with_role(&self, username: &str, role: &str) -> (i64, String) {
        let (id, token) = self.seed_user(username).await;
        self.grant_in_db(id, role).await;
        (id, token)
    }

    /// The usual cast of an authorization test: an owner, another user, a moderator and
    /// an admin.
    pub async fn seed_cast(&self) -> Cast {
        Cast {
            owner: self.seed_user("owner").await,
            other: self.seed_user("other").await,
            moderator: self.seed_user_with_role("moderator", "moderator").await,
            admin: self.seed_user_with_role("admin", "admin").await,
        }
    }

    /// Inserts a post below the API, created at `at` (several may share one instant).
    pub async fn seed_post_at(
        &self,
        author_id: i64,
        title: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        insert_post_at(self.state.store.connection(), author_id, title, at).await
    }

    /// Inserts a post below the API, created now.
    pub async fn seed_post(&self, author_id: i64, title: &str) -> i64 {
        self.seed_post_at(author_id, title, relata::time::now())
            .await
    }

    /// Inserts `n` posts by `author_id` in one statement, all created at `at`.
    pub async fn seed_posts_bulk(
        &self,
        author_id: i64,
        n: usize,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        use relata::entity::post;
        use sea_orm::{EntityTrait, Set};
        let rows = (0..n).map(|i| post::ActiveModel {
            author_id: Set(author_id),
            title: Set(format!("bulk {i}")),
            // `insert_many` skips the entity's hook that fills a slug on `insert`.
            slug: Set(relata::domain::slug::generate("bulk")),
            content: Set(String::new()),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        });
        post::Entity::insert_many(rows)
            .exec(self.state.store.connection())
            .await
            .expect("inserting posts");
    }

    /// Inserts a comment below the API, created at `at`.
    pub async fn seed_comment_at(
        &self,
        post_id: i64,
        author_id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        insert_comment_at(self.state.store.connection(), post_id, author_id, at).await
    }

    /// Inserts a comment below the API, created now.
    pub async fn seed_comment(&self, post_id: i64, author_id: i64) -> i64 {
        self.seed_comment_at(post_id, author_id, relata::time::now())
            .await
    }

    /// Follows `next_cursor` from `path` (which must not hold a cursor yet) to the end;
    /// returns every item's `id`, in the order served.
    pub async fn collect_ids(&self, path: &str) -> Vec<i64> {
        self.collect_ids_after(path, None).await
    }

    /// [`TestApp::collect_ids`] starting at `cursor` (a `next_cursor` served earlier).
    pub async fn collect_ids_after(&self, path: &str, cursor: Option<String>) -> Vec<i64> {
        self.collect_ids_as(path, cursor, None).await
    }

    /// [`TestApp::collect_ids`] for a list that needs a token (the feed).
    pub async fn collect_ids_with_token(&self, path: &str, token: &str) -> Vec<i64> {
        self.collect_ids_as(path, None, Some(token)).await
    }

    async fn collect_ids_as(
        &self,
        path: &str,
        cursor: Option<String>,
        token: Option<&str>,
    ) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut cursor = cursor;
        let sep = if path.contains('?') { '&' } else { '?' };
        for _ in 0..1000 {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}cursor={c}"),
                None => path.to_string(),
            };
            let res = self.get(&url, token).await;
            res.assert_status(200);
            for item in res.body["items"].as_array().expect("items") {
                ids.push(item["id"].as_i64().expect("an id"));
            }
            match res.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return ids,
            }
        }
        panic!("paging {path} did not end");
    }
}

/// Who takes part in an authorization test: (id, token) each.
pub struct Cast {
    pub owner: (i64, String),
    pub other: (i64, String),
    pub moderator: (i64, String),
    pub admin: (i64, String),
}

// ---------------------------------------------------------------------------------------
// Rows arranged below the API on a connection of the test's choosing (one with foreign
// keys off, a transaction): many users at once (no argon2 per user), and the posts,
// comments and profiles whose endpoints live in another module. `TestApp::seed_*` above
// insert the same rows through the application's own connection.

/// An active user row named `username` whose password hash is not a real hash, so that
/// it cannot log in.
fn user_row(
    username: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> relata::entity::user::ActiveModel {
    use sea_orm::Set;
    relata::entity::user::ActiveModel {
        username: Set(username.to_string()),
        email: Set(format!("{}@example.com", username.to_lowercase())),
        password_hash: Set("not-a-hash: seeded users never log in".to_string()),
        display_name: Set(None),
        is_active: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// Inserts `n` users named `{prefix}{i}` in one transaction (see [`user_row`]).
pub async fn insert_users(db: &sea_orm::DatabaseConnection, prefix: &str, n: usize) {
    use sea_orm::{EntityTrait, TransactionTrait};
    let now = relata::time::now();
    let txn = db.begin().await.expect("a transaction");
    let rows: Vec<_> = (0..n)
        .map(|i| user_row(&format!("{prefix}{i}"), now))
        .collect();
    relata::entity::user::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await
        .expect("inserting users");
    txn.commit().await.expect("committing users");
}

/// Inserts a post by `author` created at `at`; returns its id.
pub async fn insert_post_at(
    db: &impl sea_orm::ConnectionTrait,
    author: i64,
    title: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> i64 {
    use sea_orm::{ActiveModelTrait, Set};
    relata::entity::post::ActiveModel {
        author_id: Set(author),
        title: Set(title.to_string()),
        content: Set(format!("content of {title}")),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("inserting a post")
    .id
}

/// Inserts a post by `author`, created now; returns its id.
pub async fn insert_post(db: &impl sea_orm::ConnectionTrait, author: i64) -> i64 {
    insert_post_at(db, author, "A title", relata::time::now()).await
}

/// Inserts a comment on `post` by `author` created at `at`; returns its id.
pub async fn insert_comment_at(
    db: &impl sea_orm::ConnectionTrait,
    post: i64,
    author: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> i64 {
    use sea_orm::{ActiveModelTrait, Set};
    relata::entity::comment::ActiveModel {
        post_id: Set(post),
        author_id: Set(author),
        body: Set("a comment".to_string()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("inserting a comment")
    .id
}

/// Inserts a comment on `post` by `author`, created now; returns its id.
pub async fn insert_comment(db: &impl sea_orm::ConnectionTrait, post: i64, author: i64) -> i64 {
    insert_comment_at(db, post, author, relata::time::now()).await
}

/// Inserts a profile for `user_id`; the database's refusal, if any, is the error.
pub async fn try_insert_profile(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i64,
) -> Result<relata::entity::profile::Model, sea_orm::DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    let now = relata::time::now();
    relata::entity::profile::ActiveModel {
        user_id: Set(user_id),
        bio: Set(Some("Hello".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Inserts a profile for `user_id`; returns its id.
pub async fn insert_profile(db: &impl sea_orm::ConnectionTrait, user_id: i64) -> i64 {
    try_insert_profile(db, user_id)
        .await
        .expect("inserting a profile")
        .id
}

/// Inserts one user (see [`user_row`]); returns its id.
pub async fn insert_user(db: &impl sea_orm::ConnectionTrait, username: &str) -> i64 {
    use sea_orm::ActiveModelTrait;
    user_row(username, relata::time::now())
        .insert(db)
        .await
        .expect("inserting a user")
        .id
}

/// Gives `user_id` the role named `role`, recorded as assigned by `by`.
pub async fn insert_assignment(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i64,
    role: &str,
    by: Option<i64>,
) {
    use relata::entity::{role as role_entity, user_role};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let role = role_entity::Entity::find()
        .filter(role_entity::Column::Name.eq(role))
        .one(db)
        .await
        .expect("reading roles")
        .expect("the role exists");
    user_role::ActiveModel {
        user_id: Set(user_id),
        role_id: Set(role.id),
        assigned_at: Set(relata::time::now()),
        assigned_by: Set(by),
    }
    .insert(db)
    .await
    .expect("granting a role");
}

/// An admin named `root`, registered through the API: (id, access token).
pub async fn admin(app: &TestApp) -> (i64, String) {
    app.user_with_role("root", "admin").await
}

/// The access and refresh tokens of a fresh login with `password123`.
pub async fn login_pair(app: &TestApp, login: &str) -> (String, String) {
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"login": login, "password": "password123"}),
        )
        .await;
    res.assert_status(200);
    let token = |name: &str| {
        res.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("a {name}"))
            .to_string()
    };
    (token("access_token"), token("refresh_token"))
}
