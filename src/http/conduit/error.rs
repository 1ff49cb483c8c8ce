//! The Conduit face's errors: `{"errors": {"<key>": ["<message>"]}}` with the status
//! and texts of CONDUIT.md, instead of `/api/v1`'s problem+json.
//!
//! Handlers name the 404 and 403 they mean ([`ConduitError::not_found`],
//! [`ConduitError::forbidden`]); whatever a service answers otherwise is translated once,
//! here ([`From<AppError>`]), so that the services stay the same for both faces.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{AppError, InternalCause};

/// Shorthand for the face's handlers.
pub type Result<T, E = ConduitError> = std::result::Result<T, E>;

/// The error body: each key (a field, or `token`, `credentials`, `article`…) with its
/// messages.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ErrorsBody {
    #[schema(value_type = std::collections::HashMap<String, Vec<String>>)]
    pub errors: BTreeMap<String, Vec<String>>,
}

/// An error of the Conduit face.
#[derive(Debug)]
pub struct ConduitError {
    pub status: StatusCode,
    pub errors: BTreeMap<String, Vec<String>>,
    pub retry_after: Option<u64>,
    /// The internal cause of a 5xx; logged, never shown.
    cause: Option<String>,
}

impl ConduitError {
    pub fn new(status: StatusCode, key: &str, message: impl Into<String>) -> Self {
        ConduitError {
            status,
            errors: BTreeMap::from([(key.to_string(), vec![message.into()])]),
            retry_after: None,
            cause: None,
        }
    }

    /// 401 `token: is missing`.
    pub fn token_missing() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "token", "is missing")
    }

    /// 404 `<what>: not found` (`article`, `profile`, `comment`).
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, what, "not found")
    }

    /// 403 `<what>: forbidden` (`article`, `comment`).
    pub fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, what, "forbidden")
    }

    /// 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, field, message)
    }
}

/// The refusals of several fields, gathered so that one 422 names them all.
#[derive(Debug, Default)]
pub struct Refusals(BTreeMap<String, Vec<String>>);

impl Refusals {
    /// Records why `field` is refused (its first reason only).
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| vec![message.into()]);
    }

    /// The value of a check, or `None` after recording its refusal.
    pub fn check<T>(&mut self, field: &str, checked: std::result::Result<T, String>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(message) => {
                self.reject(field, message);
                None
            }
        }
    }

    /// `Ok` when nothing was refused, else the 422 naming every refused field.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConduitError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors: self.0,
                retry_after: None,
                cause: None,
            })
        }
    }
}

/// The face's name for a field of the shared validation.
fn field_name(field: &str) -> &str {
    match field {
        "tags" => "tagList",
        "content" => "body",
        "avatar_url" => "image",
        "follower_id" => "profile",
        other => other,
    }
}

impl From<AppError> for ConduitError {
    fn from(err: AppError) -> Self {
        let status = err.status;
        let (key, message): (String, String) = match (status.as_u16(), err.code) {
            (401, "invalid_credentials") => ("credentials".into(), "invalid".into()),
            (401, "token_expired") => ("token".into(), "has expired".into()),
            (401, "missing_token") => ("token".into(), "is missing".into()),
            (401, _) => ("token".into(), "is invalid".into()),
            (403, "account_disabled") => ("account".into(), "disabled".into()),
            (403, _) => ("authorization".into(), "forbidden".into()),
            (404, _) => {
                let what = match err.detail.split(' ').next() {
                    Some("Post") => "article",
                    Some("Comment") => "comment",
                    _ => "profile",
                };
                (what.into(), "not found".into())
            }
            (409, "username_taken") => ("username".into(), "has already been taken".into()),
            (409, "email_taken") => ("email".into(), "has already been taken".into()),
            (409, _) => ("body".into(), err.detail.clone()),
            (413, _) => ("body".into(), "is too large".into()),
            (422, _) if !err.errors.is_empty() => {
                let mut refusals = Refusals::default();
                for e in &err.errors {
                    refusals.reject(field_name(&e.field), e.message.clone());
                }
                return refusals
                    .finish()
                    .err()
                    .unwrap_or_else(|| ConduitError::invalid("body", "is invalid"));
            }
            (429, _) => ("credentials".into(), "too many attempts".into()),
            (s, _) if s >= 500 => ("server".into(), "could not answer".into()),
            _ => ("body".into(), err.detail.clone()),
        };
        // A 400 or 415 of the shared layer is, on this face, a body that was refused.
        let status = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            other => other,
        };
        let mut out = ConduitError::new(status, &key, message);
        out.retry_after = err.retry_after;
        if status.is_server_error() {
            out.cause = Some(match &err.source {
                Some(source) => format!("{source:#}"),
                None => err.detail.clone(),
            });
        }
        out
    }
}

impl From<sea_orm::DbErr> for ConduitError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::from(err).into()
    }
}

impl IntoResponse for ConduitError {
    fn into_response(self) -> Response {
        let body = ErrorsBody {
            errors: self.errors,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(InternalCause(Arc::new(cause)));
        }
        res
    }
}
