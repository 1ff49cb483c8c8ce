//! Passwords, tokens, sessions and the authenticated caller.
//!
//! Access tokens are HS256 JWTs (`sub`, `exp`, `iat`, `jti`), signed and verified by
//! [`crate::jwt`]; any other algorithm, `none` included, is refused. Checking a token is one SQL statement that reads the user,
//! whether they are active, their admin/moderator roles and whether the token's `jti` was
//! revoked, so revocation and deactivation take effect at once in every process.
//!
//! A password change starts a new session epoch for its user (`session_epochs`); every
//! access token carries the epoch it was issued in, and the same statement refuses one
//! from an earlier epoch, except the token that made the change (SPEC §6).
//!
//! Passwords are argon2id, hashed and verified on the blocking pool, at most
//! [`Passwords`]' bound at once. A login session is a
//! `refresh_tokens` row holding the SHA-256 digest of 256 random bits and the `jti` of the
//! access token issued with it; refreshing deletes the row and makes a new one (rotation),
//! logging out deletes it and records the access token's `jti` in `revoked_tokens`. Login
//! attempts are rows of `login_attempts`, reserved before the password is verified, so
//! throttling holds across processes and against parallel bursts.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, Query, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::password::Password;
use crate::entity::{
    login_attempt, refresh_token, revoked_token, role, session_epoch, setting, user, user_role,
};
use crate::error::{AppError, Result};
use crate::jwt::{
    Audience, CONDUIT_AUDIENCE, JwtKeys, decode_token, issue_access_token, random_hex,
};
use crate::store::read::{Built, Reader, ShapeCache};
use crate::store::{Db, Writer};
use crate::time;

pub use crate::domain::viewer::Viewer;

struct CallerRow {
    id: i64,
    username: String,
    is_active: bool,
    is_admin: bool,
    is_moderator: bool,
    revoked: bool,
    /// The user's session epoch; `None` (no row) is epoch 0.
    epoch: Option<i64>,
    /// The token that made the last password change, which outlives it.
    kept_jti: Option<String>,
}

crate::from_row!(CallerRow {
    id,
    username,
    is_active,
    is_admin,
    is_moderator,
    revoked,
    epoch,
    kept_jti,
});

fn has_role(role_name: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(user_role::Entity)
        .inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user_role::Entity, user_role::Column::RoleId)),
        )
        .and_where(
            Expr::col((user_role::Entity, user_role::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(Expr::col((role::Entity, role::Column::Name)).eq(role_name))
        .to_owned()
}

/// The text of [`caller_built`]'s statement, built once.
static CALLER: LazyLock<ShapeCache<()>> = LazyLock::new(ShapeCache::default);

/// The statement of [`authenticate_for`]: the caller's row, whether they hold the admin
/// and moderator roles, whether token `jti` is revoked, and their session epoch.
fn caller_built(backend: DbBackend, user_id: i64, jti: &str) -> Built {
    let values = vec![
        Value::Int(Some(1)),
        Value::String(Some(role::ADMIN.to_string())),
        Value::Int(Some(1)),
        Value::String(Some(role::MODERATOR.to_string())),
        Value::Int(Some(1)),
        Value::String(Some(jti.to_string())),
        Value::BigInt(Some(user_id)),
    ];
    CALLER.get(backend, (), values, || {
        let revoked = Query::select()
            .expr(Expr::val(1))
            .from(revoked_token::Entity)
            .and_where(Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(jti))
            .to_owned();
        Query::select()
            .columns([
                (user::Entity, user::Column::Id),
                (user::Entity, user::Column::Username),
                (user::Entity, user::Column::IsActive),
            ])
            .expr_as(Expr::exists(has_role(role::ADMIN)), "is_admin")
            .expr_as(Expr::exists(has_role(role::MODERATOR)), "is_moderator")
            .expr_as(Expr::exists(revoked), "revoked")
            .columns([
                (session_epoch::Entity, session_epoch::Column::Epoch),
                (session_epoch::Entity, session_epoch::Column::KeptJti),
            ])
            .from(user::Entity)
            .left_join(
                session_epoch::Entity,
                Expr::col((session_epoch::Entity, session_epoch::Column::UserId))
                    .equals((user::Entity, user::Column::Id)),
            )
            .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
            .to_owned()
    })
}

/// Turns a bearer token into the caller, in one statement; 401 when the token is bad,
/// expired or revoked, from a session epoch its user's password change ended, or its user
/// is gone or deactivated.
pub async fn authenticate(db: &Reader<'_>, keys: &JwtKeys, token: &str) -> Result<Viewer> {
    authenticate_for(db, keys, token, Audience::Api).await
}

/// [`authenticate`] for the face `audience` (the Conduit face also takes its own tokens).
pub async fn authenticate_for(
    db: &Reader<'_>,
    keys: &JwtKeys,
    token: &str,
    audience: Audience,
) -> Result<Viewer> {
    let claims = decode_token(keys, token, audience)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| AppError::unauthorized("invalid_token", "The access token is not valid."))?;
    let row: Option<CallerRow> = db
        .first(caller_built(db.backend(), user_id, &claims.jti))
        .await?;
    let ended = |r: &CallerRow| {
        claims.epoch != r.epoch.unwrap_or(0) && r.kept_jti.as_deref() != Some(claims.jti.as_str())
    };
    match row {
        Some(r) if r.is_active && !r.revoked && !ended(&r) => Ok(Viewer {
            id: r.id,
            username: r.username,
            is_admin: r.is_admin,
            is_moderator: r.is_moderator,
            conduit_token: claims.aud.as_deref() == Some(CONDUIT_AUDIENCE),
            jti: claims.jti,
            exp: claims.exp,
        }),
        Some(r) if r.revoked => Err(AppError::unauthorized(
            "invalid_token",
            "The access token has been revoked.",
        )),
        Some(r) if ended(&r) => Err(AppError::unauthorized(
            "invalid_token",
            "The access token was issued before the password was changed.",
        )),
        Some(_) => Err(AppError::unauthorized(
            "account_disabled",
            "This account is deactivated.",
        )),
        None => Err(AppError::unauthorized(
            "invalid_token",
            "The access token's user no longer exists.",
        )),
    }
}

const JWT_SECRET_KEY: &str = "jwt_secret";

/// The configured secret, or the one stored in the database (generated on first use, with
/// an insert that lets the first of several starting processes win).
pub async fn load_or_create_secret(
    db: &DatabaseConnection,
    configured: Option<&str>,
) -> Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let candidate = random_hex(32);
    setting::Entity::insert(setting::ActiveModel {
        key: sea_orm::Set(JWT_SECRET_KEY.to_string()),
        value: sea_orm::Set(candidate),
    })
    .on_conflict_do_nothing_on([setting::Column::Key])
    .exec(db)
    .await?;
    let stored = setting::Entity::find()
        .filter(setting::Column::Key.eq(JWT_SECRET_KEY))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the JWT secret was not stored")))?;
    Ok(stored.value.into_bytes())
}

// ---------------------------------------------------------------------------------------
// Passwords

/// A hash of a random password with the same parameters as real ones: logins for unknown
/// users are verified against it so that they take as long as wrong passwords.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&random_hex(16)).unwrap_or_default());

fn hash_blocking(password: &str) -> std::result::Result<String, argon2::password_hash::Error> {
    // A random 16-byte salt from the operating system, as before.
    PasswordHasher::<PasswordHash>::hash_password(&Argon2::default(), password.as_bytes())
        .map(|hash| hash.to_string())
}

fn verify_blocking(stored: Option<String>, password: &str) -> bool {
    let known = stored.is_some();
    // Forced on both paths, so that the one-off cost of making the dummy hash cannot tell
    // the first unknown login from a known one.
    let dummy = &*DUMMY_HASH;
    let hash = stored.unwrap_or_else(|| dummy.clone());
    let matched = PasswordHash::new(&hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    known && matched
}

/// Password hashing and verification for one process, at most `concurrent` at once.
///
/// Each argon2id hash costs 19 MiB and tens of milliseconds of a core; without a bound a
/// flood of logins or registrations would take every core and the memory with it. Past
/// the bound a request waits its turn, at most [`Passwords::QUEUE_WAIT`], then is refused
/// with 429 and `Retry-After` rather than left to time out.
pub struct Passwords {
    permits: tokio::sync::Semaphore,
    queue_wait: Duration,
}

impl Passwords {
    /// How long a request waits for a turn to hash before it is refused.
    pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

    pub fn new(concurrent: usize) -> Self {
        Self::with_queue_wait(concurrent, Self::QUEUE_WAIT)
    }

    fn with_queue_wait(concurrent: usize, queue_wait: Duration) -> Self {
        Passwords {
            permits: tokio::sync::Semaphore::new(concurrent.max(1)),
            queue_wait,
        }
    }

    /// Runs `work` on the blocking pool once a turn is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _turn = tokio::time::timeout(self.queue_wait, self.permits.acquire())
            .await
            .map_err(|_| {
                AppError::rate_limited(1).with_detail(
                    "Too many passwords are being checked at once; try again in a second.",
                )
            })?
            .map_err(|e| AppError::internal(anyhow::anyhow!("the hashing bound closed: {e}")))?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    /// The argon2id hash of `password`.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_string();
        self.run(move || hash_blocking(&password))
            .await?
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user) it checks
    /// the dummy hash and answers false, taking the same time.
    pub async fn verify(&self, stored: Option<String>, password: &str) -> Result<bool> {
        let password = password.to_string();
        self.run(move || verify_blocking(stored, &password)).await
    }
}

// ---------------------------------------------------------------------------------------
// Sessions

/// What starting a session needs besides the database: the keys that sign its access
/// token and the lifetimes of its two tokens.
pub struct Issuer<'a> {
    pub keys: &'a JwtKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// What login and refresh answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn invalid_refresh_token() -> AppError {
    AppError::unauthorized("invalid_token", "The refresh token is not valid.")
}

/// The session epoch of `user_id`: how many times their password has changed.
async fn epoch_of(db: &Writer<'_>, user_id: i64) -> Result<i64> {
    Ok(session_epoch::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map_or(0, |row| row.epoch))
}

/// Ends every session of `user_id` but the caller's own (`kept`, when the caller is that
/// user): a new session epoch, in which the access tokens issued before are refused
/// except `kept`, and every refresh token but `kept`'s deleted. Run in the transaction
/// that changes the password.
pub async fn end_other_sessions(
    db: &Writer<'_>,
    user_id: i64,
    kept: Option<&Viewer>,
) -> Result<()> {
    let kept_jti = kept.map(|viewer| viewer.jti.clone());
    let mut upsert = sea_orm::sea_query::OnConflict::column(session_epoch::Column::UserId);
    upsert
        .value(
            session_epoch::Column::Epoch,
            Expr::col((session_epoch::Entity, session_epoch::Column::Epoch)).add(1),
        )
        .update_columns([
            session_epoch::Column::KeptJti,
            session_epoch::Column::ChangedAt,
        ]);
    session_epoch::Entity::insert(session_epoch::ActiveModel {
        user_id: Set(user_id),
        epoch: Set(1),
        kept_jti: Set(kept_jti.clone()),
        changed_at: Set(time::now()),
    })
    .on_conflict(upsert)
    .exec_without_returning(db)
    .await?;
    let mut sessions =
        refresh_token::Entity::delete_many().filter(refresh_token::Column::UserId.eq(user_id));
    if let Some(jti) = kept_jti {
        sessions = sessions.filter(refresh_token::Column::AccessJti.ne(jti));
    }
    sessions.exec(db).await?;
    Ok(())
}

/// Issues an access token and a refresh token for `user_id`, storing the refresh token's
/// digest tied to the access token's `jti`.
async fn start_session(db: &Writer<'_>, issuer: &Issuer<'_>, user_id: i64) -> Result<TokenPair> {
    let ttl = Ord::max(issuer.access_ttl.as_secs(), 1);
    let epoch = epoch_of(db, user_id).await?;
    let (access_token, jti, _) = issue_access_token(issuer.keys, user_id, epoch, ttl)?;
    let refresh_token = random_hex(32);
    let now = time::now();
    refresh_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(sha256_hex(&refresh_token)),
        access_jti: Set(jti),
        expires_at: Set(now
            + chrono::Duration::from_std(issuer.refresh_ttl).unwrap_or(chrono::Duration::days(30))),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: ttl,
    })
}

/// Failures that lock a login (SPEC §4: 5 within 15 minutes).
pub const MAX_FAILED_LOGINS: usize = 5;
/// The window failures are counted in.
pub const FAILED_LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The form failures are recorded under: trimmed, lower-case, bounded.
fn login_key(login: &str) -> String {
    login.trim().to_lowercase().chars().take(254).collect()
}

/// The user a login names: an email when it holds `@` (usernames cannot), else a
/// username compared case-insensitively.
async fn find_by_login(db: &Reader<'_>, key: &str) -> Result<Option<user::Model>> {
    let by = if key.contains('@') {
        Expr::col((user::Entity, user::Column::Email)).eq(key)
    } else {
        Expr::expr(Func::lower(Expr::col((
            user::Entity,
            user::Column::Username,
        ))))
        .eq(key)
    };
    Ok(db
        .first(&user::Entity::find().filter(by).limit(1).into_query())
        .await?)
}

/// Whose allowance an attempt draws on: failures for this login text, or for the user it
/// names. Counting by user too means the username and the email of one account share one
/// allowance.
fn attempts_of(key: &str, user_id: Option<i64>) -> Condition {
    let mut who = Condition::any().add(login_attempt::Column::Login.eq(key));
    if let Some(id) = user_id {
        who = who.add(login_attempt::Column::UserId.eq(id));
    }
    who
}

/// The PostgreSQL advisory lock that serialises the throttle checks of one account (or of
/// one login text naming no account): the first 8 bytes of a digest of what it names, the
/// same in every process.
fn throttle_lock_key(key: &str, user_id: Option<i64>) -> i64 {
    let subject = match user_id {
        Some(id) => format!("relata login throttle: user {id}"),
        None => format!("relata login throttle: login {key}"),
    };
    let digest = Sha256::digest(subject.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// Reserves one of the login's [`MAX_FAILED_LOGINS`] attempts before its password is
/// verified, or refuses with 429 when the window holds that many already.
///
/// The reservation is a `login_attempts` row written first and counted with the others in
/// one transaction that no other attempt on the same account can interleave with: on
/// PostgreSQL a transaction-scoped advisory lock keyed by the account, on SQLite the
/// database's single writer (the insert comes first, so the count reads after every
/// committed reservation). Attempts in flight therefore count as failures until they are
/// resolved, and a burst of parallel attempts cannot all pass the check. Other accounts
/// take other locks, and the lock is released before the password is verified.
async fn reserve_attempt(
    db: Writer<'_>,
    key: &str,
    user_id: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [throttle_lock_key(key, user_id).into()],
        ))
        .await?;
    }
    let reserved = login_attempt::ActiveModel {
        login: Set(key.to_string()),
        user_id: Set(user_id),
        attempted_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?
    .id;
    // The newest attempts besides this one, newest first; one more than the allowance,
    // so that this one's own row cannot hide the fifth.
    let others: Vec<(i64, chrono::DateTime<chrono::Utc>)> = login_attempt::Entity::find()
        .select_only()
        .columns([
            login_attempt::Column::Id,
            login_attempt::Column::AttemptedAt,
        ])
        .filter(attempts_of(key, user_id))
        .filter(login_attempt::Column::AttemptedAt.gt(now - FAILED_LOGIN_WINDOW))
        .order_by_desc(login_attempt::Column::AttemptedAt)
        .order_by_desc(login_attempt::Column::Id)
        .limit(MAX_FAILED_LOGINS as u64 + 1)
        .into_tuple::<(i64, chrono::DateTime<chrono::Utc>)>()
        .all(&txn)
        .await?
        .into_iter()
        .filter(|(id, _)| *id != reserved)
        .collect();
    if others.len() >= MAX_FAILED_LOGINS {
        // Refused attempts are not recorded: dropping the transaction rolls the
        // reservation back. The lock lifts when the oldest of the newest five leaves the
        // window.
        drop(txn);
        let unlocks_at = others[MAX_FAILED_LOGINS - 1].1 + FAILED_LOGIN_WINDOW;
        let wait = Ord::max((unlocks_at - now).num_seconds(), 1);
        return Err(AppError::rate_limited(wait as u64));
    }
    txn.commit().await?;
    Ok(reserved)
}

/// Keeps a reservation as the record of a failure. A success of the same account may have
/// cleared it while this password was verified; then the failure is recorded anew.
async fn record_failure(
    db: Writer<'_>,
    reserved: i64,
    key: &str,
    user_id: Option<i64>,
) -> Result<()> {
    let kept = login_attempt::Entity::update_many()
        .col_expr(
            login_attempt::Column::AttemptedAt,
            Expr::col(login_attempt::Column::AttemptedAt),
        )
        .filter(login_attempt::Column::Id.eq(reserved))
        .exec(&db)
        .await?;
    if kept.rows_affected == 0 {
        login_attempt::Entity::insert(login_attempt::ActiveModel {
            login: Set(key.to_string()),
            user_id: Set(user_id),
            attempted_at: Set(time::now()),
            ..Default::default()
        })
        .exec_without_returning(&db)
        .await?;
    }
    Ok(())
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "The login or the password is wrong.")
}

/// Logs in with a username or email and a password.
///
/// In order: 429 when the login is locked (even with the right password; checked and
/// reserved before the password is verified, see [`reserve_attempt`]), 401 for an
/// unknown login or a wrong password alike (same body; an unknown login is verified
/// against a dummy hash so it takes as long), 403 for a deactivated account with the right
/// password. A failure keeps its reservation; a success clears the login's failures.
#[tracing::instrument(skip_all)]
pub async fn login(
    db: &mut Db<'_>,
    passwords: &Passwords,
    issuer: &Issuer<'_>,
    login: &str,
    password: &str,
) -> Result<TokenPair> {
    let (user, key) = check_credentials(db, passwords, login, password).await?;
    let txn = db.write().await.begin().await?;
    login_attempt::Entity::delete_many()
        .filter(attempts_of(&key, Some(user.id)))
        .exec(&txn)
        .await?;
    let pair = start_session(&txn, issuer, user.id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Logs in as [`login`] does (same throttle, same answers), but starts no session: the
/// Conduit face's login, whose long-lived token (audience `conduit`, lifetime `ttl`) has
/// no refresh token. Returns the user and the token.
#[tracing::instrument(skip_all)]
pub async fn login_without_session(
    db: &mut Db<'_>,
    passwords: &Passwords,
    keys: &JwtKeys,
    ttl: Duration,
    login: &str,
    password: &str,
) -> Result<(user::Model, String)> {
    let (user, key) = check_credentials(db, passwords, login, password).await?;
    let write = db.write().await;
    login_attempt::Entity::delete_many()
        .filter(attempts_of(&key, Some(user.id)))
        .exec(&write)
        .await?;
    let epoch = epoch_of(&write, user.id).await?;
    drop(write);
    let token = issue_conduit_token(keys, user.id, epoch, ttl)?;
    Ok((user, token))
}

/// A Conduit token (audience `conduit`) for `user_id` in session epoch `epoch`, valid for
/// `ttl`.
pub fn issue_conduit_token(
    keys: &JwtKeys,
    user_id: i64,
    epoch: i64,
    ttl: Duration,
) -> Result<String> {
    let ttl = Ord::max(ttl.as_secs(), 1);
    crate::jwt::issue_token(keys, user_id, epoch, ttl, Some(CONDUIT_AUDIENCE))
        .map(|(token, _, _)| token)
}

/// The throttle and password check of a login: the user and the login's key, or 429, 401
/// or 403 (see [`login`]).
async fn check_credentials(
    db: &mut Db<'_>,
    passwords: &Passwords,
    login: &str,
    password: &str,
) -> Result<(user::Model, String)> {
    let key = login_key(login);
    let found = find_by_login(&db.read()?, &key).await?;
    let user_id = found.as_ref().map(|u| u.id);
    let reserved = reserve_attempt(db.write().await, &key, user_id, time::now()).await?;
    let plausible = password.chars().count() <= Password::MAX;
    let matched = plausible
        && passwords
            .verify(found.as_ref().map(|u| u.password_hash.clone()), password)
            .await?;
    let user = match found {
        Some(user) if matched => user,
        _ => {
            record_failure(db.write().await, reserved, &key, user_id).await?;
            return Err(invalid_credentials());
        }
    };
    if !user.is_active {
        // The right password: not a failure, so the reservation goes.
        login_attempt::Entity::delete_by_id(reserved)
            .exec(&db.write().await)
            .await?;
        return Err(AppError::new(
            axum::http::StatusCode::FORBIDDEN,
            "account_disabled",
            "This account is deactivated.",
        ));
    }
    Ok((user, key))
}

/// 403 `wrong_password` unless `current` is `target`'s password; throttled like a login
/// of that account (SPEC §6): each guess reserves one of the account's
/// [`MAX_FAILED_LOGINS`] attempts first (429 once they are spent), a wrong one keeps it as
/// a failure, and the right one clears the account's failures as a successful login does.
pub async fn check_current_password(
    db: &mut Db<'_>,
    passwords: &Passwords,
    target: &user::Model,
    current: &str,
) -> Result<()> {
    let key = login_key(&target.username);
    let reserved = reserve_attempt(db.write().await, &key, Some(target.id), time::now()).await?;
    let plausible = current.chars().count() <= Password::MAX;
    let matched = plausible
        && passwords
            .verify(Some(target.password_hash.clone()), current)
            .await?;
    if !matched {
        record_failure(db.write().await, reserved, &key, Some(target.id)).await?;
        return Err(AppError::new(
            axum::http::StatusCode::FORBIDDEN,
            "wrong_password",
            "The current password is wrong.",
        ));
    }
    login_attempt::Entity::delete_many()
        .filter(attempts_of(&key, Some(target.id)))
        .exec(&db.write().await)
        .await?;
    Ok(())
}

/// Trades a refresh token for a new pair. The old refresh token is deleted in the same
/// transaction, so of two concurrent uses exactly one succeeds and any later use is 401.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    db: Writer<'_>,
    issuer: &Issuer<'_>,
    raw_refresh_token: &str,
) -> Result<TokenPair> {
    let digest = sha256_hex(raw_refresh_token);
    let txn = db.begin().await?;
    let session = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(digest))
        .one(&txn)
        .await?
        .ok_or_else(invalid_refresh_token)?;
    let deleted = refresh_token::Entity::delete_by_id(session.id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Err(invalid_refresh_token());
    }
    if session.expires_at <= time::now() {
        // Keep the deletion: an expired session is of no further use.
        txn.commit().await?;
        return Err(AppError::unauthorized(
            "token_expired",
            "The refresh token has expired.",
        ));
    }
    let active = user::Entity::find_by_id(session.user_id)
        .one(&txn)
        .await?
        .is_some_and(|u| u.is_active);
    if !active {
        return Err(AppError::unauthorized(
            "account_disabled",
            "This account is deactivated.",
        ));
    }
    let pair = start_session(&txn, issuer, session.user_id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Ends the caller's session: their access token's `jti` is revoked and the refresh token
/// issued with it deleted, in one transaction. Revocations whose tokens have expired
/// anyway are swept on the way.
#[tracing::instrument(skip_all, fields(user_id = viewer.id))]
pub async fn logout(db: Writer<'_>, viewer: &Viewer) -> Result<()> {
    let expires_at = chrono::DateTime::from_timestamp(viewer.exp as i64, 0)
        .unwrap_or_else(|| time::now() + FAILED_LOGIN_WINDOW);
    let txn = db.begin().await?;
    revoked_token::Entity::insert(revoked_token::ActiveModel {
        jti: Set(viewer.jti.clone()),
        user_id: Set(viewer.id),
        expires_at: Set(expires_at),
    })
    .on_conflict_do_nothing_on([revoked_token::Column::Jti])
    .exec_without_returning(&txn)
    .await?;
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::AccessJti.eq(viewer.jti.as_str()))
        .exec(&txn)
        .await?;
    revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lt(time::now()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_statement_is_built_once() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            caller_built(backend, 7, "a");
            let again = caller_built(backend, 8, "b");
            assert!(
                CALLER.holds(backend, ()),
                "{backend:?}: its values disagree"
            );
            assert_eq!(again.values.0.last(), Some(&Value::BigInt(Some(8))));
        }
    }

    /// Stored hashes outlive the crate that made them: this one was made by argon2 0.5
    /// (`relata seed`'s demo password) before the move to argon2 0.6.
    #[tokio::test]
    async fn a_hash_made_by_argon2_0_5_still_verifies() {
        let stored = "$argon2id$v=19$m=19456,t=2,p=1$eWeF3ACcShjkmYqcuzh1xQ$U3nOThIY41+Cn6TKS8ak6TBUWRwVD2TaBdHyu45f+EU";
        let demo = crate::ops::seed::DEMO_PASSWORD;
        let passwords = Passwords::new(1);
        assert!(passwords.verify(Some(stored.into()), demo).await.unwrap());
        assert!(
            !passwords
                .verify(Some(stored.into()), "wrong")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_new_hash_keeps_the_parameters_and_salt_length_of_before() {
        let hash = hash_blocking("password123").unwrap();
        let prefix = "$argon2id$v=19$m=19456,t=2,p=1$";
        assert!(hash.starts_with(prefix), "{hash}");
        let salt = hash[prefix.len()..].split('$').next().unwrap();
        assert_eq!(salt.len(), 22, "16 bytes of salt, unpadded base64: {hash}");
        assert!(
            Passwords::new(1)
                .verify(Some(hash), "password123")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn past_the_bound_a_hash_waits_its_turn_and_then_is_refused() {
        let passwords = Passwords::with_queue_wait(1, Duration::from_millis(50));
        let held = passwords.permits.acquire().await.unwrap();
        let refused = passwords.verify(None, "password123").await.unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        drop(held);
    }
}
