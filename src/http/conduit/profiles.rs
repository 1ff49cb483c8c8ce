//! `/api/profiles/{username}` and following, over `service::follows`.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};

use super::error::{ConduitError, ErrorsBody, Result};
use super::extract::{Auth, ConduitPath, MaybePending};
use super::view::{Profile, ProfileBody};
use crate::http::state::AppState;
use crate::service::follows;
use crate::service::profiles::{self, Person};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profiles/{username}", get(get_profile))
        .route(
            "/profiles/{username}/follow",
            post(follow_user).delete(unfollow_user),
        )
}

/// The user called `username` (case-insensitively), or 404 `profile`.
async fn find(state: &AppState, username: &str) -> Result<Person> {
    profiles::person_named(&state.db().read()?, username)
        .await?
        .ok_or_else(|| ConduitError::not_found("profile"))
}

/// A user's profile; `following` is the caller's side (false without a token).
#[utoipa::path(get, path = "/api/profiles/{username}", tag = "conduit", operation_id = "conduit_get_profile",
    summary = "Conduit: a profile",
    security((), ("bearer" = [])),
    params(("username" = String, Path, description = "Compared case-insensitively")),
    responses(
        (status = 200, description = "The profile", body = ProfileBody),
        (status = 401, description = "A token was sent and does not work", body = ErrorsBody),
        (status = 404, description = "`profile: not found`", body = ErrorsBody),
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    auth: MaybePending,
    path: std::result::Result<ConduitPath<String>, ConduitError>,
) -> Result<Json<ProfileBody>> {
    // The user with their profile and the viewer's `following`; with a token, the token,
    // in one flight with it.
    crate::store::set_budget(1 + usize::from(auth.0.is_some()));
    let handle = state.db();
    let db = handle.read()?;
    let viewer_id = auth.viewer_id();
    let find = async {
        let ConduitPath(username) = path?;
        Ok::<_, ConduitError>(profiles::person_named_seen_by(&db, &username, viewer_id).await?)
    };
    let (_caller, found) = auth.check_with(&db, find).await?;
    let (person, following) = found.ok_or_else(|| ConduitError::not_found("profile"))?;
    Ok(Json(ProfileBody {
        profile: Profile::new(&person, following),
    }))
}

/// Follows the user; following twice is still 200, with one row.
#[utoipa::path(post, path = "/api/profiles/{username}/follow", tag = "conduit", operation_id = "conduit_follow_user",
    summary = "Conduit: follow a user",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Compared case-insensitively")),
    responses(
        (status = 200, description = "The profile, `following: true`", body = ProfileBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 404, description = "`profile: not found`", body = ErrorsBody),
        (status = 422, description = "`profile: cannot follow yourself`", body = ErrorsBody),
    ))]
pub async fn follow_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(username): ConduitPath<String>,
) -> Result<Json<ProfileBody>> {
    let person = find(&state, &username).await?;
    if person.user.id == caller.viewer.id {
        return Err(ConduitError::invalid("profile", "cannot follow yourself"));
    }
    follows::follow(state.db().write().await, caller.viewer.id, person.user.id).await?;
    Ok(Json(ProfileBody {
        profile: Profile::new(&person, true),
    }))
}

/// Stops following the user; not following is still 200, `following: false`.
#[utoipa::path(delete, path = "/api/profiles/{username}/follow", tag = "conduit", operation_id = "conduit_unfollow_user",
    summary = "Conduit: unfollow a user",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Compared case-insensitively")),
    responses(
        (status = 200, description = "The profile, `following: false`", body = ProfileBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 404, description = "`profile: not found`", body = ErrorsBody),
    ))]
pub async fn unfollow_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(username): ConduitPath<String>,
) -> Result<Json<ProfileBody>> {
    let person = find(&state, &username).await?;
    match follows::unfollow(&state.db().write().await, caller.viewer.id, person.user.id).await {
        Ok(()) => {}
        // Not following: nothing to undo.
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Json(ProfileBody {
        profile: Profile::new(&person, false),
    }))
}
