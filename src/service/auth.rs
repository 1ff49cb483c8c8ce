//! Passwords, tokens, sessions and the authenticated caller.
//!
//! Access tokens are HS256 JWTs (`sub`, `exp`, `iat`, `jti`); any other algorithm,
//! `none` included, is refused. Checking a token is one SQL statement that reads the user,
//! whether they are active, their admin/moderator roles and whether the token's `jti` was
//! revoked, so revocation and deactivation take effect at once in every process.
//!
//! Passwords are argon2id, hashed and verified on the blocking pool. A login session is a
//! `refresh_tokens` row holding the SHA-256 digest of 256 random bits and the `jti` of the
//! access token issued with it; refreshing deletes the row and makes a new one (rotation),
//! logging out deletes it and records the access token's `jti` in `revoked_tokens`. Failed
//! logins are rows of `login_attempts`, so throttling holds across processes.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::password::Password;
use crate::entity::{login_attempt, refresh_token, revoked_token, role, setting, user, user_role};
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::time;

/// The HS256 key pair built from the secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
}

/// Who is calling, as established by a valid token.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_moderator: bool,
    /// The access token's id, for logout.
    pub jti: String,
    /// When the access token expires (seconds since the epoch).
    pub exp: u64,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Random bytes from the operating system's generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Signs an access token for `user_id`; returns the token, its `jti` and its expiry.
pub fn issue_access_token(
    keys: &JwtKeys,
    user_id: i64,
    ttl_secs: u64,
) -> Result<(String, String, u64)> {
    let iat = unix_now();
    let exp = iat + ttl_secs;
    let jti = random_hex(16);
    let claims = Claims {
        sub: user_id.to_string(),
        exp,
        iat,
        jti: jti.clone(),
    };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| AppError::internal(anyhow::anyhow!("signing a token: {e}")))?;
    Ok((token, jti, exp))
}

/// Verifies signature, algorithm and expiry; no database access.
pub fn decode_access_token(keys: &JwtKeys, token: &str) -> Result<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub", "iat"]);
    jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                AppError::unauthorized("token_expired", "The access token has expired.")
            }
            _ => AppError::unauthorized("invalid_token", "The access token is not valid."),
        })
}

struct CallerRow {
    id: i64,
    username: String,
    is_active: bool,
    is_admin: bool,
    is_moderator: bool,
    revoked: bool,
}

crate::from_row!(CallerRow {
    id,
    username,
    is_active,
    is_admin,
    is_moderator,
    revoked,
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

/// Turns a bearer token into the caller, in one statement; 401 when the token is bad,
/// expired or revoked, or its user is gone or deactivated.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Viewer> {
    let claims = decode_access_token(&state.jwt, token)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| AppError::unauthorized("invalid_token", "The access token is not valid."))?;
    let revoked = Query::select()
        .expr(Expr::val(1))
        .from(revoked_token::Entity)
        .and_where(
            Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(claims.jti.as_str()),
        )
        .to_owned();
    let stmt = Query::select()
        .columns([
            (user::Entity, user::Column::Id),
            (user::Entity, user::Column::Username),
            (user::Entity, user::Column::IsActive),
        ])
        .expr_as(Expr::exists(has_role(role::ADMIN)), "is_admin")
        .expr_as(Expr::exists(has_role(role::MODERATOR)), "is_moderator")
        .expr_as(Expr::exists(revoked), "revoked")
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .to_owned();
    let row: Option<CallerRow> = state.reader()?.first(&stmt).await?;
    match row {
        Some(r) if r.is_active && !r.revoked => Ok(Viewer {
            id: r.id,
            username: r.username,
            is_admin: r.is_admin,
            is_moderator: r.is_moderator,
            jti: claims.jti,
            exp: claims.exp,
        }),
        Some(r) if r.revoked => Err(AppError::unauthorized(
            "invalid_token",
            "The access token has been revoked.",
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
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// The argon2id hash of `password`, computed off the async runtime.
pub async fn hash_password(password: &Password) -> Result<String> {
    let password = password.expose().to_string();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await?
        .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// Whether `password` matches `stored`; with no stored hash (unknown user) it checks the
/// dummy hash and answers false, taking the same time.
pub async fn verify_password(stored: Option<String>, password: &str) -> Result<bool> {
    let password = password.to_string();
    let known = stored.is_some();
    let matched = tokio::task::spawn_blocking(move || {
        // Forced on both paths, so that the one-off cost of making the dummy hash cannot
        // tell the first unknown login from a known one.
        let dummy = &*DUMMY_HASH;
        let hash = stored.unwrap_or_else(|| dummy.clone());
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?;
    Ok(known && matched)
}

// ---------------------------------------------------------------------------------------
// Sessions

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

/// Issues an access token and a refresh token for `user_id`, storing the refresh token's
/// digest tied to the access token's `jti`.
async fn start_session<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user_id: i64,
) -> Result<TokenPair> {
    let ttl = Ord::max(state.settings.access_ttl.as_secs(), 1);
    let (access_token, jti, _) = issue_access_token(&state.jwt, user_id, ttl)?;
    let refresh_token = random_hex(32);
    let now = time::now();
    refresh_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(sha256_hex(&refresh_token)),
        access_jti: Set(jti),
        expires_at: Set(now
            + chrono::Duration::from_std(state.settings.refresh_ttl)
                .unwrap_or(chrono::Duration::days(30))),
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
async fn find_by_login<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<user::Model>> {
    let by = if key.contains('@') {
        Expr::col((user::Entity, user::Column::Email)).eq(key)
    } else {
        Expr::expr(Func::lower(Expr::col((
            user::Entity,
            user::Column::Username,
        ))))
        .eq(key)
    };
    Ok(user::Entity::find().filter(by).one(db).await?)
}

/// Failures for this login text, or for the user it names, newer than `since`: the
/// newest [`MAX_FAILED_LOGINS`] of them, newest first. Counting by user too means the
/// username and the email of one account share one allowance.
async fn recent_failures<C: ConnectionTrait>(
    db: &C,
    key: &str,
    user_id: Option<i64>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<chrono::DateTime<chrono::Utc>>> {
    let mut who = Condition::any().add(login_attempt::Column::Login.eq(key));
    if let Some(id) = user_id {
        who = who.add(login_attempt::Column::UserId.eq(id));
    }
    Ok(login_attempt::Entity::find()
        .select_only()
        .column(login_attempt::Column::AttemptedAt)
        .filter(who)
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .order_by_desc(login_attempt::Column::AttemptedAt)
        .limit(MAX_FAILED_LOGINS as u64)
        .into_tuple::<chrono::DateTime<chrono::Utc>>()
        .all(db)
        .await?)
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "The login or the password is wrong.")
}

/// Logs in with a username or email and a password.
///
/// In order: 429 when the login is locked (even with the right password), 401 for an
/// unknown login or a wrong password alike (same body; an unknown login is verified
/// against a dummy hash so it takes as long), 403 for a deactivated account with the right
/// password. A failure is recorded; a success clears the login's failures.
#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, login: &str, password: &str) -> Result<TokenPair> {
    let key = login_key(login);
    let found = find_by_login(&state.db, &key).await?;
    let now = time::now();
    let failures = recent_failures(
        &state.db,
        &key,
        found.as_ref().map(|u| u.id),
        now - FAILED_LOGIN_WINDOW,
    )
    .await?;
    if failures.len() >= MAX_FAILED_LOGINS {
        // The lock lifts when the oldest of the newest five leaves the window.
        let unlocks_at = failures[MAX_FAILED_LOGINS - 1] + FAILED_LOGIN_WINDOW;
        let wait = Ord::max((unlocks_at - now).num_seconds(), 1);
        return Err(AppError::rate_limited(wait as u64));
    }
    let plausible = password.chars().count() <= Password::MAX;
    let matched = plausible
        && verify_password(found.as_ref().map(|u| u.password_hash.clone()), password).await?;
    let user = match found {
        Some(user) if matched => user,
        found => {
            login_attempt::ActiveModel {
                login: Set(key),
                user_id: Set(found.map(|u| u.id)),
                attempted_at: Set(now),
                ..Default::default()
            }
            .insert(&state.db)
            .await?;
            return Err(invalid_credentials());
        }
    };
    if !user.is_active {
        return Err(AppError::new(
            axum::http::StatusCode::FORBIDDEN,
            "account_disabled",
            "This account is deactivated.",
        ));
    }
    let txn = state.begin_write().await?;
    login_attempt::Entity::delete_many()
        .filter(
            Condition::any()
                .add(login_attempt::Column::Login.eq(key.as_str()))
                .add(login_attempt::Column::UserId.eq(user.id)),
        )
        .exec(&*txn)
        .await?;
    let pair = start_session(&*txn, state, user.id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Trades a refresh token for a new pair. The old refresh token is deleted in the same
/// transaction, so of two concurrent uses exactly one succeeds and any later use is 401.
#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, raw_refresh_token: &str) -> Result<TokenPair> {
    let digest = sha256_hex(raw_refresh_token);
    let txn = state.begin_write().await?;
    let session = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(digest))
        .one(&*txn)
        .await?
        .ok_or_else(invalid_refresh_token)?;
    let deleted = refresh_token::Entity::delete_by_id(session.id)
        .exec(&*txn)
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
        .one(&*txn)
        .await?
        .is_some_and(|u| u.is_active);
    if !active {
        return Err(AppError::unauthorized(
            "account_disabled",
            "This account is deactivated.",
        ));
    }
    let pair = start_session(&*txn, state, session.user_id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Ends the caller's session: their access token's `jti` is revoked and the refresh token
/// issued with it deleted, in one transaction. Revocations whose tokens have expired
/// anyway are swept on the way.
#[tracing::instrument(skip_all, fields(user_id = viewer.id))]
pub async fn logout(state: &AppState, viewer: &Viewer) -> Result<()> {
    let expires_at = chrono::DateTime::from_timestamp(viewer.exp as i64, 0)
        .unwrap_or_else(|| time::now() + FAILED_LOGIN_WINDOW);
    let txn = state.begin_write().await?;
    revoked_token::Entity::insert(revoked_token::ActiveModel {
        jti: Set(viewer.jti.clone()),
        user_id: Set(viewer.id),
        expires_at: Set(expires_at),
    })
    .on_conflict_do_nothing_on([revoked_token::Column::Jti])
    .exec_without_returning(&*txn)
    .await?;
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::AccessJti.eq(viewer.jti.as_str()))
        .exec(&*txn)
        .await?;
    revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lt(time::now()))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
