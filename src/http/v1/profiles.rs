//! Profiles, the one-to-one side of a user: `/users/{id}/profile` (GET, PUT as a whole
//! replacement, DELETE) and `/profiles/{id}`, the same relation reached from its own side.
//!
//! PUT and DELETE follow SPEC §3's order: the token (401) and the body's form
//! (415/413/400) are checked by the extractors, then the user and profile are found
//! (404), then the caller is authorized (403), and only then are the fields validated
//! (422).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::text::{Bio, Location};
use crate::domain::url::AbsoluteUrl;
use crate::entity::{profile, user};
use crate::error::{FieldErrors, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{AppPath, AuthUser, Id, IncludeQuery, JsonBody, MaybeAuthUser};
use crate::http::v1::openapi::parts::{
    BodyErrors, GuardedRowErrors, ProfileIncludes, ProfilePath, RowErrors, UserPath,
};
use crate::http::v1::respond::{OneRead, created};
use crate::relations::{Find, Resource};
use crate::service::lookup;
use crate::service::profiles::{self, Outcome, ProfileFields};
use crate::wire::item::Item;
use crate::wire::repr::ProfileOut;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/users/{id}/profile",
            get(get_user_profile)
                .put(replace_user_profile)
                .delete(delete_user_profile),
        )
        .route("/profiles/{id}", get(get_profile))
}

fn profile_item(profile: &profile::Model) -> Item {
    Item::from(ProfileOut::from(profile))
}

/// `PUT /users/{id}/profile`: the whole profile. A field left out or `null` is empty
/// afterwards, as a replacement implies.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// An absolute `http(s)://` URL.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    pub avatar_url: Option<String>,
    /// An absolute `http(s)://` URL.
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    pub website: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub bio: Option<String>,
    /// Trimmed.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub location: Option<String>,
}

impl ProfileRequest {
    fn validate(self, mut errors: FieldErrors) -> Result<ProfileFields> {
        let avatar_url = errors.check(
            "avatar_url",
            self.avatar_url
                .map(|u| AbsoluteUrl::parse(&u, AbsoluteUrl::AVATAR_MAX_CHARS))
                .transpose(),
        );
        let website = errors.check(
            "website",
            self.website
                .map(|u| AbsoluteUrl::parse(&u, AbsoluteUrl::WEBSITE_MAX_CHARS))
                .transpose(),
        );
        let bio = errors.check("bio", self.bio.as_deref().map(Bio::parse).transpose());
        let location = errors.check(
            "location",
            self.location.as_deref().map(Location::parse).transpose(),
        );
        errors
            .finish(avatar_url.zip(website).zip(bio.zip(location)))
            .map(|((avatar_url, website), (bio, location))| ProfileFields {
                avatar_url,
                website,
                bio,
                location,
            })
    }
}

/// `GET /users/{id}/profile`.
#[utoipa::path(get, path = "/api/v1/users/{id}/profile", tag = "profiles",
    summary = "Read a user's profile",
    security((), ("bearer" = [])),
    params(UserPath, ProfileIncludes),
    responses(
        (status = 200, description = "The profile", body = ProfileOut),
        RowErrors,
    ))]
pub async fn get_user_profile(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::Profile, &include, viewer.as_ref())?;
    let handle = state.db();
    let db = handle.read()?;
    let profile = profiles::find_by_user(&db, user_id).await?;
    read.respond(&db, profile_item(&profile)).await
}

/// `GET /profiles/{id}`: the same relation, reached from the profile's side.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles",
    summary = "Read a profile by its own id",
    security((), ("bearer" = [])),
    params(ProfilePath, ProfileIncludes),
    responses(
        (status = 200, description = "The profile", body = ProfileOut),
        RowErrors,
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::Profile, &include, viewer.as_ref())?;
    let handle = state.db();
    let db = handle.read()?;
    read.respond_found(&db, Find::id(Resource::Profile, id), "Profile", |profile| {
        profile_item(&profile)
    })
    .await
}

/// `PUT /users/{id}/profile`: the user themself or an admin; 201 when it creates the
/// profile, 200 when it replaces it.
#[utoipa::path(put, path = "/api/v1/users/{id}/profile", tag = "profiles",
    summary = "Create or replace a user's profile",
    description = "A whole replacement: a field left out or `null` is empty afterwards. Of concurrent first PUTs exactly one gets 201.",
    security(("bearer" = [])),
    params(UserPath),
    request_body = ProfileRequest,
    responses(
        (status = 201, description = "Created", body = ProfileOut,
            headers(("Location" = String, description = "`/api/v1/users/{id}/profile`"))),
        (status = 200, description = "Replaced", body = ProfileOut),
        GuardedRowErrors, BodyErrors,
    ))]
pub async fn replace_user_profile(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
    body: JsonBody,
) -> Result<Response> {
    lookup::require::<user::Entity>(&state.db().read()?, user_id, "User").await?;
    profiles::authorize(&viewer, user_id)?;
    let fields = body
        .parse::<ProfileRequest>()?
        .check(ProfileRequest::validate)?;
    let (profile, outcome) = profiles::replace(state.db().write().await, user_id, fields).await?;
    Ok(match outcome {
        Outcome::Created => created(
            format!("/api/v1/users/{user_id}/profile"),
            profile_item(&profile),
        ),
        Outcome::Replaced => Json(profile_item(&profile)).into_response(),
    })
}

/// `DELETE /users/{id}/profile`: the user themself or an admin; 404 when there is none.
#[utoipa::path(delete, path = "/api/v1/users/{id}/profile", tag = "profiles",
    summary = "Delete a user's profile",
    security(("bearer" = [])),
    params(UserPath),
    responses(
        (status = 204, description = "Deleted"),
        GuardedRowErrors,
    ))]
pub async fn delete_user_profile(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
) -> Result<Response> {
    profiles::find_by_user(&state.db().read()?, user_id).await?;
    profiles::authorize(&viewer, user_id)?;
    profiles::delete_by_user(&state.db().write().await, user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
