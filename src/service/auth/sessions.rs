//! Sessions: a login session is a `refresh_tokens` row holding the SHA-256 digest of 256
//! random bits and the `jti` of the access token issued with it; refreshing deletes the
//! row and makes a new one (rotation), logging out deletes it and records the access
//! token's `jti` in `revoked_tokens`. A password change starts a new session epoch.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::throttle::FAILED_LOGIN_WINDOW;
use crate::domain::viewer::Viewer;
use crate::entity::{refresh_token, revoked_token, session_epoch, user};
use crate::error::{AppError, Result};
use crate::jwt::{CONDUIT_AUDIENCE, JwtKeys, issue_access_token, random_hex};
use crate::store::Writer;
use crate::time;

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
pub(super) async fn epoch_of(db: &Writer<'_>, user_id: i64) -> Result<i64> {
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
pub(super) async fn start_session(
    db: &Writer<'_>,
    issuer: &Issuer<'_>,
    user_id: i64,
) -> Result<TokenPair> {
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
