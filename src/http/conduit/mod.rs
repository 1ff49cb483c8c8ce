//! The Conduit face: the RealWorld ("Conduit") API under `/api`, beside `/api/v1`, over
//! the same tables and the same services (`../shared/CONDUIT.md`). A Conduit article is a
//! post, a comment a comment, a user's `bio`/`image` their profile's `bio`/`avatar_url`.
//!
//! What differs from `/api/v1` is only the face: wrapped bodies whose unknown fields are
//! ignored, `{"errors": {…}}` errors ([`error`]), `Authorization: Token` and long-lived
//! tokens of audience `conduit` ([`extract`]), offset paging, and the JSON shapes of
//! [`view`]. `RELATA_CONDUIT=off` leaves it unmounted.

pub mod articles;
pub mod comments;
pub mod error;
pub mod extract;
pub mod profiles;
pub mod tags;
pub mod users;
pub mod view;

use axum::Router;
use utoipa::OpenApi;

use crate::http::state::AppState;

/// Every `/api` route, with the statement-counting layer of `/api/v1` around it (so every
/// response carries `X-Query-Count` and every read keeps its declared budget).
pub fn router(state: AppState) -> Router<AppState> {
    crate::http::common::observe::counted_face(
        Router::new()
            .merge(users::router())
            .merge(profiles::router())
            .merge(articles::router())
            .merge(comments::router())
            .merge(tags::router())
            .method_not_allowed_fallback(method_not_allowed),
        state,
    )
}

async fn method_not_allowed() -> error::ConduitError {
    error::ConduitError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method",
        "is not allowed on this route",
    )
}

/// The face's part of the OpenAPI document, tagged `conduit`.
#[derive(OpenApi)]
#[openapi(
    paths(
        users::register,
        users::login,
        users::get_user,
        users::update_user,
        profiles::get_profile,
        profiles::follow_user,
        profiles::unfollow_user,
        articles::list_articles,
        articles::feed_articles,
        articles::create_article,
        articles::get_article,
        articles::update_article,
        articles::delete_article,
        articles::favorite_article,
        articles::unfavorite_article,
        comments::list_comments,
        comments::create_comment,
        comments::delete_comment,
        tags::list_tags,
    ),
    components(schemas(error::ErrorsBody)),
    tags((name = "conduit", description = "The RealWorld (Conduit) API under /api, over the same data as /api/v1. \
Send `Authorization: Token <jwt>` (or `Bearer`); errors are `{\"errors\": {\"<key>\": [\"<message>\"]}}`."))
)]
pub struct ConduitDoc;
