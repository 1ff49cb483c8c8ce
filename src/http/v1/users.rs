//! `/users`: list, read, change and delete accounts.
//!
//! Each handler checks in SPEC §3's order: token (401), the request's form (415/413/400),
//! the row (404), the caller's right ([`policy`], 403), the fields (422), and leaves the
//! conflicts (409) to the database.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::display_name::DisplayName;
use crate::domain::email::Email;
use crate::domain::password::Password;
use crate::domain::username::Username;
use crate::error::{FieldErrors, Problem, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{
    AppPath, AppQuery, AuthUser, DryRunParams, Id, IncludeQuery, JsonBody, ListParams, ListQuery,
    MaybeAuthUser, Parsed, de_present, search_text,
};
use crate::http::v1::openapi::parts::{
    BodyErrors, CallerErrors, GuardedRowErrors, RowErrors, TooManyRequests, UserIncludes, UserPage,
    UserPath,
};
use crate::http::v1::respond::{ListRead, OneRead};
use crate::relations::{Find, Resource};
use crate::service::auth;
use crate::service::users::{self, AccountChanges, policy};
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{CascadePreview, UserOut, order};

pub fn router() -> Router<AppState> {
    Router::new().route("/users", get(list_users)).route(
        "/users/{id}",
        get(get_user).patch(update_user).delete(delete_user),
    )
}

/// The filter of `GET /users`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Username prefix, case-insensitive (`%` and `_` match themselves).
    q: Option<String>,
}

/// Users by id; `email` only on the caller's own record, or to an admin.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    summary = "List users",
    security((), ("bearer" = [])),
    params(ListParams, UserIncludes, UserFilter),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        CallerErrors,
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    query: ListQuery,
    AppQuery(filter): AppQuery<UserFilter>,
) -> Result<Json<Page>> {
    let q = search_text(filter.q, crate::domain::username::Username::MAX)?;
    let read = ListRead::prepare(
        Resource::User,
        order::users(),
        ListScope::new("/users").filter("q", q.as_deref()),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let fetched = users::list(&db, q.as_deref(), &read.page).await?;
    read.respond(&db, fetched, |m| {
        Item::from(UserOut::new(&m, viewer.as_ref()))
    })
    .await
}

/// One user; `email` only to that user or an admin.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    summary = "Read a user",
    security((), ("bearer" = [])),
    params(UserPath, UserIncludes),
    responses(
        (status = 200, description = "The user", body = UserOut),
        RowErrors,
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::User, &include, viewer.as_ref())?;
    let handle = state.db();
    let db = handle.read()?;
    read.respond_found(&db, Find::id(Resource::User, id), "User", |found| {
        Item::from(UserOut::new(&found, viewer.as_ref()))
    })
    .await
}

/// `PATCH /users/{id}`: absent fields stay, `display_name: null` clears it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// A new username (API 1.1): 3–32 letters, digits, `_`, `.`, `-`; 409
    /// `username_taken` when another user has it in any case. Tokens stay valid.
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = String, required = false, min_length = 3, max_length = 32)]
    username: Option<Option<String>>,
    /// Trimmed; `null` or blank clears it.
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = Option<String>, max_length = 80)]
    display_name: Option<Option<String>>,
    /// Needs `current_password` unless the caller is an admin (API 1.2).
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = String, required = false, max_length = 254, format = Email)]
    email: Option<Option<String>>,
    /// Needs `current_password` unless the caller is an admin; ends the user's other
    /// sessions (API 1.2).
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = String, required = false, min_length = 8, max_length = 128, format = Password)]
    password: Option<Option<String>>,
    /// The caller's password, to change the password or the email (wrong: 403
    /// `wrong_password`; after 5 wrong ones within 15 minutes, 429 like logins).
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = String, required = false, format = Password)]
    current_password: Option<Option<String>>,
    /// Admins only (anyone else: 403).
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = bool, required = false)]
    is_active: Option<Option<bool>>,
}

fn not_null<T>(value: Option<T>) -> std::result::Result<T, String> {
    value.ok_or_else(|| "must not be null".to_string())
}

impl UpdateUserRequest {
    /// Whether the request changes a credential (the password or the email), which needs
    /// proof: `current_password`, unless an admin sends it.
    fn changes_credentials(&self) -> bool {
        self.password.is_some() || self.email.is_some()
    }

    /// Parses every field, naming all the bad ones; `current_password` is required for a
    /// new password or email when `needs_current` (it has been checked already when
    /// present).
    fn into_changes(self, mut fields: FieldErrors, needs_current: bool) -> Result<AccountChanges> {
        let username = self
            .username
            .map(|raw| fields.check("username", not_null(raw).and_then(|u| Username::parse(&u))));
        let display_name = match self.display_name {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => fields.check("display_name", DisplayName::parse(&raw)),
        };
        let email = self
            .email
            .map(|raw| fields.check("email", not_null(raw).and_then(|e| Email::parse(&e))));
        let password = self
            .password
            .map(|raw| fields.check("password", not_null(raw).and_then(|p| Password::parse(&p))));
        let is_active = self
            .is_active
            .map(|raw| fields.check("is_active", not_null(raw)));
        let has_current = matches!(self.current_password, Some(Some(_)));
        if (password.is_some() || email.is_some()) && needs_current && !has_current {
            fields.reject(
                "current_password",
                "is required to change the password or the email",
            );
        }
        fields.into_result()?;
        // After `finish`, no field that failed (and so holds `Some(None)`) is left.
        Ok(AccountChanges {
            username: username.flatten(),
            display_name,
            email: email.flatten(),
            password: password.flatten(),
            is_active: is_active.flatten(),
        })
    }
}

/// The user themself or an admin; absent fields stay as they are.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users",
    summary = "Change a user",
    security(("bearer" = [])),
    params(UserPath),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The changed user", body = UserOut),
        (status = 403, description = "Not the user nor an admin, `is_active` from a non-admin (`forbidden`), or a wrong `current_password` (`wrong_password`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken`, `email_taken`, or deactivating the last admin (`last_admin`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyRequests),
        RowErrors, BodyErrors,
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    body: JsonBody,
) -> Result<Json<UserOut>> {
    let target = users::find(&state.db().read()?, id).await?;
    policy::ensure_may_manage(&viewer, id)?;
    // Who may send `is_active` is a question of right (403), answered before the
    // fields are looked at (422).
    if body.0.get("is_active").is_some() {
        policy::ensure_may_set_active(&viewer)?;
    }
    let Parsed {
        value: request,
        fields,
    } = body.parse::<UpdateUserRequest>()?;
    let needs_current = policy::needs_current_password(&viewer);
    // A wrong current password is 403 (or 429 once guessed too often), which outranks the
    // fields' 422s.
    if needs_current
        && request.changes_credentials()
        && let Some(Some(current)) = &request.current_password
    {
        auth::check_current_password(&mut state.db(), &state.passwords, &target, current).await?;
    }
    let changes = request.into_changes(fields, needs_current)?;
    let updated =
        users::update(&mut state.db(), &state.passwords, &viewer, target, changes).await?;
    Ok(Json(UserOut::new(&updated, Some(&viewer))))
}

/// The user themself or an admin. Deletes, in one transaction, their profile, posts (and
/// the comments on them), comments, role assignments and tokens; assignments they made to
/// others stay with `assigned_by: null`.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    summary = "Delete a user and what is theirs",
    security(("bearer" = [])),
    params(UserPath, DryRunParams),
    responses(
        (status = 200, description = "With `dry_run=true`: what the delete would do, per table", body = CascadePreview),
        (status = 204, description = "Deleted"),
        (status = 409, description = "The last admin (`last_admin`)", body = Problem, content_type = "application/problem+json"),
        GuardedRowErrors,
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    AppQuery(params): AppQuery<DryRunParams>,
) -> Result<Response> {
    users::find(&state.db().read()?, id).await?;
    policy::ensure_may_manage(&viewer, id)?;
    match users::delete(state.db().write().await, id, params.dry_run).await? {
        Some(preview) => Ok(Json(preview).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
