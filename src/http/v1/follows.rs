//! Follows (SPEC §5): `/users/{id}/followers/{follower_id}` to follow and unfollow, and the
//! two views of the self-referential relationship, `/users/{id}/followers` and
//! `/users/{id}/following`, whose items are `{"user", "followed_at"}`.
//!
//! Checks follow SPEC §3's order: token (401), path (400), the users (404), the caller's
//! right ([`policy`], 403), following oneself (422).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};

use crate::domain::viewer::Viewer;
use crate::entity::user;
use crate::error::Result;
use crate::http::state::AppState;
use crate::http::v1::extract::{AppPath, AuthUser, Id, ListParams, ListQuery, MaybeAuthUser};
use crate::http::v1::openapi::parts::{
    FollowPage, GuardedRowErrors, RowErrors, UnprocessableEntity, UserFollowerPath, UserPath,
    ViewerParam,
};
use crate::http::v1::respond::{ListRead, linked};
use crate::service::follows::{self, FollowRow, policy};
use crate::service::lookup;
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{self, FollowOut, order};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/{id}/followers", get(list_followers))
        .route("/users/{id}/following", get(list_following))
        .route(
            "/users/{id}/followers/{follower_id}",
            put(follow_user).delete(unfollow_user),
        )
}

fn follow_item(row: FollowRow, viewer: Option<&Viewer>) -> Item {
    Item::from(repr::follow(&row.link, &row.other, viewer))
}

/// 404 unless both users exist, the followed one first.
async fn require_users(state: &AppState, id: i64, follower_id: i64) -> Result<()> {
    lookup::require::<user::Entity>(&state.db().read()?, id, "User").await?;
    lookup::require::<user::Entity>(&state.db().read()?, follower_id, "Follower").await
}

/// The two views of user `id`'s follows.
#[derive(Clone, Copy)]
enum Side {
    /// Those who follow `id`.
    Followers,
    /// Those `id` follows.
    Following,
}

/// A page of user `id`'s follows as seen from `side` (404 when there is no such user).
async fn list_follows(
    state: &AppState,
    viewer: Option<Viewer>,
    id: i64,
    query: &ListQuery,
    side: Side,
) -> Result<Json<Page>> {
    let (order, path) = match side {
        Side::Followers => (order::followers(), "followers"),
        Side::Following => (order::following(), "following"),
    };
    let read = ListRead::prepare_plain(
        order,
        ListScope::new(format!("/users/{id}/{path}")),
        query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<user::Entity>(&db, id, "User").await?;
    let fetched = match side {
        Side::Followers => follows::followers(&db, id, &read.page).await?,
        Side::Following => follows::following(&db, id, &read.page).await?,
    };
    read.respond(&db, fetched, |row| follow_item(row, viewer.as_ref()))
        .await
}

/// Follows as seen from the followed user: each `user` is a follower.
#[utoipa::path(get, path = "/api/v1/users/{id}/followers", tag = "follows",
    summary = "List a user's followers, newest first",
    description = "Takes no `include` or `counts` (400 if given).",
    security((), ("bearer" = [])),
    params(UserPath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of follows; `user` is the follower", body = FollowPage),
        RowErrors,
    ))]
pub async fn list_followers(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    list_follows(&state, viewer, id, &query, Side::Followers).await
}

/// Follows as seen from the follower: each `user` is one they follow.
#[utoipa::path(get, path = "/api/v1/users/{id}/following", tag = "follows",
    summary = "List the users a user follows, newest first",
    description = "Takes no `include` or `counts` (400 if given).",
    security((), ("bearer" = [])),
    params(UserPath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of follows; `user` is the one followed", body = FollowPage),
        RowErrors,
    ))]
pub async fn list_following(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    list_follows(&state, viewer, id, &query, Side::Following).await
}

/// `follower_id` follows user `id`. Only the follower themself may (an admin too gets
/// 403); following oneself is 422.
#[utoipa::path(put, path = "/api/v1/users/{id}/followers/{follower_id}", tag = "follows",
    summary = "Follow a user",
    description = "Takes no body. Answers the follow as the followers list shows it.",
    security(("bearer" = [])),
    params(UserFollowerPath),
    responses(
        (status = 201, description = "Followed now", body = FollowOut,
            headers(("Location" = String, description = "This PUT's own path"))),
        (status = 200, description = "Already following; unchanged", body = FollowOut),
        (status = 422, response = UnprocessableEntity),
        GuardedRowErrors,
    ))]
pub async fn follow_user(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, Id)>,
) -> Result<Response> {
    let (Id(id), Id(follower_id)) = path;
    require_users(&state, id, follower_id).await?;
    policy::ensure_may_follow(&viewer, follower_id)?;
    policy::ensure_not_self(follower_id, id)?;
    let (created_now, row) = follows::follow(state.db().write().await, follower_id, id).await?;
    Ok(linked(
        created_now,
        format!("/api/v1/users/{id}/followers/{follower_id}"),
        follow_item(row, Some(&viewer)),
    ))
}

/// Ends a follow: the follower or an admin. 404 when there is no such follow, before
/// any 403.
#[utoipa::path(delete, path = "/api/v1/users/{id}/followers/{follower_id}", tag = "follows",
    summary = "Unfollow a user",
    security(("bearer" = [])),
    params(UserFollowerPath),
    responses(
        (status = 204, description = "Unfollowed"),
        GuardedRowErrors,
    ))]
pub async fn unfollow_user(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, Id)>,
) -> Result<StatusCode> {
    let (Id(id), Id(follower_id)) = path;
    require_users(&state, id, follower_id).await?;
    // The check and the delete share one write unit.
    let mut db = state.db();
    let write = db.write().await;
    if !follows::exists(&write, follower_id, id).await? {
        return Err(crate::error::AppError::not_found("Follow"));
    }
    policy::ensure_may_unfollow(&viewer, follower_id)?;
    follows::unfollow(&write, follower_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
