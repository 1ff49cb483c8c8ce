//! Logging in, and proving the current password before a credential changes (SPEC §6),
//! both behind the throttle.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use crate::domain::password::Password;
use crate::entity::{login_attempt, user};
use crate::error::{AppError, Result};
use crate::jwt::JwtKeys;
use crate::store::Db;
use crate::store::read::Reader;
use crate::time;

use super::Passwords;
use super::sessions::{Issuer, TokenPair, epoch_of, issue_conduit_token, start_session};
use super::throttle::{attempts_of, login_key, record_failure, reserve_attempt};

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
