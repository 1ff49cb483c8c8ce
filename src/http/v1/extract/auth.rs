//! The bearer token: [`AuthUser`] (401 with `WWW-Authenticate` without a good token) and
//! [`MaybeAuthUser`] (anonymous without a token, 401 with a bad one — not
//! `Option<AuthUser>`, which would swallow a bad token).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::http::state::AppState;
use crate::service::auth::{self, Viewer};

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

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(MaybeAuthUser(Some(viewer.clone())));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(MaybeAuthUser(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::unauthorized(
                    "invalid_token",
                    "The Authorization header must be `Bearer <token>`.",
                )
            })?;
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
