//! The HTTP API under `/api/v1`: one module per resource, each with its `router()`, with
//! `observe`'s statement counting and query budget around them.

pub mod auth;
pub mod comments;
pub mod docs;
pub mod extract;
pub mod favorites;
pub mod follows;
pub mod head_limits;
pub mod health;
pub mod openapi;
pub mod posts;
pub mod profiles;
pub mod respond;
pub mod roles;
pub mod tags;
pub mod users;

use axum::Router;
use axum::http::StatusCode;

use crate::error::AppError;
use crate::http::state::AppState;

/// Every `/api/v1` route, with the statement-counting layer around it.
pub fn router(state: AppState) -> Router<AppState> {
    crate::http::common::observe::counted_face(
        Router::new()
            .merge(health::router())
            .merge(openapi::router())
            .merge(profiles::router())
            .merge(posts::router())
            .merge(comments::router())
            .merge(auth::router())
            .merge(users::router())
            .merge(roles::router())
            .merge(follows::router())
            .merge(favorites::router())
            .merge(tags::router())
            .fallback(unknown_route)
            .method_not_allowed_fallback(method_not_allowed),
        state,
    )
}

/// 404 for a path no route serves, under `/api/v1` and everywhere else.
pub async fn unknown_route() -> AppError {
    AppError::not_found("Route")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed on this route.",
    )
}
