//! Tokens and the authenticated caller.
//!
//! Access tokens are HS256 JWTs (`sub`, `exp`, `iat`, `jti`); any other algorithm,
//! `none` included, is refused. Checking a token is one SQL statement that reads the user,
//! whether they are active, their admin/moderator roles and whether the token's `jti` was
//! revoked, so revocation and deactivation take effect at once in every process.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::entity::{revoked_token, role, setting, user, user_role};
use crate::error::{AppError, Result};
use crate::state::AppState;

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

#[derive(FromQueryResult)]
struct CallerRow {
    id: i64,
    username: String,
    is_active: bool,
    is_admin: bool,
    is_moderator: bool,
    revoked: bool,
}

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
    let backend = state.db.get_database_backend();
    let row = CallerRow::find_by_statement(backend.build(&stmt))
        .one(&state.db)
        .await?;
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
