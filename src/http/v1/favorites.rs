//! Favorites (SPEC §5): `/posts/{id}/favorites/{user_id}` to favorite and unfavorite, and
//! the two views of the relationship, `/posts/{id}/favorites` (`{"user", "favorited_at"}`)
//! and `/users/{id}/favorites` (`{"post", "favorited_at"}`).
//!
//! Checks follow SPEC §3's order: token (401), path (400), the rows (404), the caller's
//! right ([`policy`], 403).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};

use crate::entity::{post, user};
use crate::error::{AppError, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{AppPath, AuthUser, Id, ListParams, ListQuery, MaybeAuthUser};
use crate::http::v1::openapi::parts::{
    GuardedRowErrors, PostFavoritePage, PostPath, PostUserPath, RowErrors, UserFavoritePage,
    UserPath, ViewerParam,
};
use crate::http::v1::respond::{ListRead, linked};
use crate::service::favorites::{self, policy};
use crate::service::lookup;
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{self, PostFavoriteOut, order};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/posts/{id}/favorites", get(list_post_favorites))
        .route("/users/{id}/favorites", get(list_user_favorites))
        .route(
            "/posts/{id}/favorites/{user_id}",
            put(favorite_post).delete(unfavorite_post),
        )
}

/// 404 unless the post and the user exist, the post first.
async fn require_rows(state: &AppState, post_id: i64, user_id: i64) -> Result<()> {
    lookup::require::<post::Entity>(&state.db().read()?, post_id, "Post").await?;
    lookup::require::<user::Entity>(&state.db().read()?, user_id, "User").await
}

/// Favorites as seen from the post: each item names the user.
#[utoipa::path(get, path = "/api/v1/posts/{id}/favorites", tag = "favorites",
    summary = "List a post's favorites, newest first",
    description = "Takes no `include` or `counts` (400 if given).",
    security((), ("bearer" = [])),
    params(PostPath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of favorites, as seen from the post", body = PostFavoritePage),
        RowErrors,
    ))]
pub async fn list_post_favorites(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(post_id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare_plain(
        order::post_favorites(),
        ListScope::new(format!("/posts/{post_id}/favorites")),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<post::Entity>(&db, post_id, "Post").await?;
    let fetched = favorites::of_post(&db, post_id, &read.page).await?;
    read.respond(&db, fetched, |row| {
        Item::from(repr::post_favorite(&row.link, &row.other, viewer.as_ref()))
    })
    .await
}

/// Favorites as seen from the user: each item holds the post.
#[utoipa::path(get, path = "/api/v1/users/{id}/favorites", tag = "favorites",
    summary = "List a user's favorites, newest first",
    description = "Takes no `include` or `counts` (400 if given).",
    security((), ("bearer" = [])),
    params(UserPath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of favorites, as seen from the user", body = UserFavoritePage),
        RowErrors,
    ))]
pub async fn list_user_favorites(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare_plain(
        order::user_favorites(),
        ListScope::new(format!("/users/{user_id}/favorites")),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<user::Entity>(&db, user_id, "User").await?;
    let fetched = favorites::of_user(&db, user_id, &read.page).await?;
    read.respond(&db, fetched, |row| {
        Item::from(repr::user_favorite(&row.link, &row.other))
    })
    .await
}

/// `user_id` favorites post `id`. Only that user may (an admin too gets 403).
#[utoipa::path(put, path = "/api/v1/posts/{id}/favorites/{user_id}", tag = "favorites",
    summary = "Favorite a post",
    description = "Takes no body. Answers the favorite as the post's favorites list shows it.",
    security(("bearer" = [])),
    params(PostUserPath),
    responses(
        (status = 201, description = "Favorited now", body = PostFavoriteOut,
            headers(("Location" = String, description = "This PUT's own path"))),
        (status = 200, description = "Already a favorite; unchanged", body = PostFavoriteOut),
        GuardedRowErrors,
    ))]
pub async fn favorite_post(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, Id)>,
) -> Result<Response> {
    let (Id(id), Id(user_id)) = path;
    require_rows(&state, id, user_id).await?;
    policy::ensure_may_favorite(&viewer, user_id)?;
    let (created_now, row) = favorites::favorite(state.db().write().await, user_id, id).await?;
    Ok(linked(
        created_now,
        format!("/api/v1/posts/{id}/favorites/{user_id}"),
        Item::from(repr::post_favorite(&row.link, &row.other, Some(&viewer))),
    ))
}

/// Removes a favorite: that user or an admin. 404 when it is not a favorite, before any
/// 403.
#[utoipa::path(delete, path = "/api/v1/posts/{id}/favorites/{user_id}", tag = "favorites",
    summary = "Unfavorite a post",
    security(("bearer" = [])),
    params(PostUserPath),
    responses(
        (status = 204, description = "Removed"),
        GuardedRowErrors,
    ))]
pub async fn unfavorite_post(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, Id)>,
) -> Result<StatusCode> {
    let (Id(id), Id(user_id)) = path;
    require_rows(&state, id, user_id).await?;
    // The check and the delete share one write unit.
    let mut db = state.db();
    let write = db.write().await;
    if !favorites::exists(&write, user_id, id).await? {
        return Err(AppError::not_found("Favorite"));
    }
    policy::ensure_may_unfavorite(&viewer, user_id)?;
    favorites::unfavorite(&write, user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
