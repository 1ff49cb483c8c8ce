//! The bearer token: [`AuthUser`] (401 with `WWW-Authenticate` without a good token),
//! [`MaybeAuthUser`] (anonymous without a token, 401 with a bad one — not
//! `Option<AuthUser>`, which would swallow a bad token) and [`PendingUser`] (verified, its
//! row checked later by the write it is for).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::http::common::authorization;
use crate::http::state::AppState;
use crate::jwt::Audience;
use crate::service::auth::{self, UncheckedToken, Viewer};

/// The authenticated caller; rejects with 401 when the token is missing or bad.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Viewer);

/// The caller when a token was sent (a bad token is still 401), else anonymous.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<Viewer>);

impl MaybeAuthUser {
    /// The viewer, or 401 when no token was sent.
    pub fn required(self) -> Result<Viewer, AppError> {
        self.0.ok_or_else(AppError::token_required)
    }
}

/// The token of `Authorization: Bearer <token>`, if one was sent; 401 for a header of
/// another form.
fn bearer(parts: &Parts) -> Result<Option<&str>, AppError> {
    authorization::token(parts, &["bearer"]).map_err(|_| {
        AppError::unauthorized(
            "invalid_token",
            "The Authorization header must be `Bearer <token>`.",
        )
    })
}

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(MaybeAuthUser(Some(viewer.clone())));
        }
        let Some(token) = bearer(parts)? else {
            return Ok(MaybeAuthUser(None));
        };
        let viewer = auth::authenticate(&state.db().read()?, &state.jwt, token).await?;
        parts.extensions.insert(viewer.clone());
        Ok(MaybeAuthUser(Some(viewer)))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        MaybeAuthUser::from_request_parts(parts, state)
            .await?
            .required()
            .map(AuthUser)
    }
}

/// A required token whose signature and expiry are verified, and whose row (revoked?
/// active? the session epoch?) is not read yet: for a write that checks it itself, in
/// its own statement where the database allows (`posts::create_for_token`). 401 without
/// one, or with one that is malformed, badly signed or expired.
pub struct PendingUser(pub UncheckedToken);

impl FromRequestParts<AppState> for PendingUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?.ok_or_else(AppError::token_required)?;
        Ok(PendingUser(UncheckedToken::verify(
            &state.jwt,
            token,
            Audience::Api,
        )?))
    }
}
