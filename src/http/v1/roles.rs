//! `/roles` and the role assignments reached from both sides: `/users/{id}/roles` and
//! `/roles/{name}/users`, whose items are the association object of SPEC §4.
//!
//! Every route needs a token (role data is never public); changes need `admin`
//! ([`policy`]). Checks follow SPEC §3's order: 401, the request's form, 404, 403, 422, 409.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;

use crate::domain::role_description::RoleDescription;
use crate::domain::role_name::RoleName;
use crate::error::{AppError, Problem, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{
    AppPath, AppQuery, AuthUser, DryRunParams, Id, IncludeQuery, JsonBody, ListParams, ListQuery,
    Parsed, de_present,
};
use crate::http::v1::openapi::parts::{
    BodyErrors, CallerErrors, Forbidden, GuardedRowErrors, RoleAssignmentPage, RoleIncludes,
    RolePage, RolePath, RowErrors, UserAssignmentPage, UserPath, UserRolePath, ViewerParam,
};
use crate::http::v1::respond::{ListRead, OneRead, created, linked};
use crate::relations::Resource;
use crate::service::roles::{self, policy};
use crate::service::users;
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{CascadePreview, RoleOut, UserAssignmentOut, order};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/roles", get(list_roles).post(create_role))
        .route(
            "/roles/{name}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .route("/roles/{name}/users", get(list_role_users))
        .route("/users/{id}/roles", get(list_user_roles))
        .route(
            "/users/{id}/roles/{name}",
            put(assign_role).delete(unassign_role),
        )
}

/// Roles by name.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    summary = "List roles",
    security(("bearer" = [])),
    params(ListParams, RoleIncludes),
    responses(
        (status = 200, description = "A page of roles", body = RolePage),
        CallerErrors,
    ))]
pub async fn list_roles(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare(
        Resource::Role,
        order::roles(),
        ListScope::new("/roles"),
        &query,
        Some(&viewer),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let fetched = roles::list(&db, &read.page).await?;
    read.respond(&db, fetched, |m| Item::from(RoleOut::from(&m)))
        .await
}

/// One role.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "roles",
    summary = "Read a role",
    security(("bearer" = [])),
    params(RolePath, RoleIncludes),
    responses(
        (status = 200, description = "The role", body = RoleOut),
        RowErrors,
    ))]
pub async fn get_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(name): AppPath<String>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::Role, &include, Some(&viewer))?;
    let handle = state.db();
    let db = handle.read()?;
    let found = roles::find(&db, &name).await?;
    read.respond(&db, Item::from(RoleOut::from(&found))).await
}

/// `POST /roles`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// The role's address; cannot change later.
    #[schema(value_type = String, required = true, pattern = "^[a-z][a-z0-9_-]{1,49}$")]
    name: Option<String>,
    /// Trimmed; blank is stored as `null`.
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// 201 with `Location` and the role; 409 `role_exists` when the name is taken.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles",
    summary = "Create a role (admin)",
    security(("bearer" = [])),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "The new role", body = RoleOut,
            headers(("Location" = String, description = "`/api/v1/roles/{name}`"))),
        (status = 403, response = Forbidden),
        (status = 409, description = "The name is taken (`role_exists`)", body = Problem, content_type = "application/problem+json"),
        CallerErrors, BodyErrors,
    ))]
pub async fn create_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    body: JsonBody,
) -> Result<Response> {
    policy::ensure_may_manage(&viewer)?;
    let Parsed {
        value: request,
        mut fields,
    } = body.parse::<CreateRoleRequest>()?;
    let name = fields.check(
        "name",
        request
            .name
            .ok_or_else(|| "is required".to_string())
            .and_then(|n| RoleName::parse(&n)),
    );
    let description = fields.check(
        "description",
        request
            .description
            .map(|d| RoleDescription::parse(&d))
            .transpose()
            .map(Option::flatten),
    );
    fields.into_result()?;
    let (Some(name), Some(description)) = (name, description) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "a field passed validation without a value"
        )));
    };
    // In a transaction, so that a failed commit (a full disk) is an error: on its own,
    // SQLite commits an INSERT … RETURNING only after the returned row was read, and that
    // commit's error is lost (docs/guarantees.md).
    let mut db = state.db();
    let txn = db.write().await.begin().await?;
    let role = roles::create(&txn, name, description).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/roles/{}", role.name),
        RoleOut::from(&role),
    ))
}

/// `PATCH /roles/{name}`: only the description changes (`null` clears it); a role's
/// name is its address and stays.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    /// Trimmed; `null` or blank clears it.
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
}

/// Admins only.
#[utoipa::path(patch, path = "/api/v1/roles/{name}", tag = "roles",
    summary = "Change a role's description (admin)",
    security(("bearer" = [])),
    params(RolePath),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "The changed role", body = RoleOut),
        GuardedRowErrors, BodyErrors,
    ))]
pub async fn update_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(name): AppPath<String>,
    body: JsonBody,
) -> Result<Json<RoleOut>> {
    let target = roles::find(&state.db().read()?, &name).await?;
    policy::ensure_may_manage(&viewer)?;
    let Parsed {
        value: request,
        mut fields,
    } = body.parse::<UpdateRoleRequest>()?;
    let updated = match request.description {
        None => {
            fields.into_result()?;
            target
        }
        Some(raw) => {
            let parsed = fields.check(
                "description",
                raw.map(|d| RoleDescription::parse(&d))
                    .transpose()
                    .map(Option::flatten),
            );
            fields.into_result()?;
            roles::update_description(&state.db().write().await, target, parsed.flatten()).await?
        }
    };
    Ok(Json(RoleOut::from(&updated)))
}

/// Admins only; the role's assignments go with it.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles",
    summary = "Delete a role (admin)",
    security(("bearer" = [])),
    params(RolePath, DryRunParams),
    responses(
        (status = 200, description = "With `dry_run=true`: what the delete would do, per table", body = CascadePreview),
        (status = 204, description = "Deleted"),
        (status = 409, description = "`admin` cannot be deleted (`protected_role`)", body = Problem, content_type = "application/problem+json"),
        GuardedRowErrors,
    ))]
pub async fn delete_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(name): AppPath<String>,
    AppQuery(params): AppQuery<DryRunParams>,
) -> Result<Response> {
    let target = roles::find(&state.db().read()?, &name).await?;
    policy::ensure_may_manage(&viewer)?;
    match roles::delete(&state.db().write().await, &target, params.dry_run).await? {
        Some(preview) => Ok(Json(preview).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// The user's role assignments, as seen from the user.
#[utoipa::path(get, path = "/api/v1/users/{id}/roles", tag = "roles",
    summary = "List a user's role assignments",
    description = "Takes no `include` or `counts` (400 if given).",
    security(("bearer" = [])),
    params(UserPath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of assignments, as seen from the user", body = UserAssignmentPage),
        RowErrors,
    ))]
pub async fn list_user_roles(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare_plain(
        order::user_assignments(),
        ListScope::new(format!("/users/{id}/roles")),
        &query,
        Some(&viewer),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    users::find(&db, id).await?;
    let fetched = roles::assignments_of_user(&db, id, &read.page).await?;
    read.respond(&db, fetched, |row| row.into_item()).await
}

/// The role's assignments, as seen from the role.
#[utoipa::path(get, path = "/api/v1/roles/{name}/users", tag = "roles",
    summary = "List a role's assignments",
    description = "Takes no `include` or `counts` (400 if given).",
    security(("bearer" = [])),
    params(RolePath, ListParams, ViewerParam),
    responses(
        (status = 200, description = "A page of assignments, as seen from the role", body = RoleAssignmentPage),
        RowErrors,
    ))]
pub async fn list_role_users(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(name): AppPath<String>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare_plain(
        order::role_assignments(),
        ListScope::new(format!("/roles/{name}/users")),
        &query,
        Some(&viewer),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let target = roles::find(&db, &name).await?;
    let fetched = roles::assignments_of_role(&db, target.id, &read.page).await?;
    read.respond(&db, fetched, |row| row.into_item(Some(&viewer)))
        .await
}

/// 201 with the new assignment (the caller recorded as `assigned_by`), or 200 with the
/// existing one, unchanged.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles/{name}", tag = "roles",
    summary = "Assign a role to a user (admin)",
    description = "Takes no body.",
    security(("bearer" = [])),
    params(UserRolePath),
    responses(
        (status = 201, description = "Assigned now", body = UserAssignmentOut,
            headers(("Location" = String, description = "`/api/v1/users/{id}/roles/{name}`"))),
        (status = 200, description = "Already held; unchanged", body = UserAssignmentOut),
        GuardedRowErrors,
    ))]
pub async fn assign_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, String)>,
) -> Result<Response> {
    let (Id(user_id), name) = path;
    users::find(&state.db().read()?, user_id).await?;
    let target = roles::find(&state.db().read()?, &name).await?;
    policy::ensure_may_manage(&viewer)?;
    let (created_now, row) =
        roles::grant(state.db().write().await, Some(&viewer), user_id, &target).await?;
    Ok(linked(
        created_now,
        format!("/api/v1/users/{user_id}/roles/{}", target.name),
        row.into_item(),
    ))
}

/// 204; 404 when the user does not hold the role; 409 `last_admin`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/roles/{name}", tag = "roles",
    summary = "Take a role from a user (admin)",
    security(("bearer" = [])),
    params(UserRolePath),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "Removing `admin` from the last admin (`last_admin`)", body = Problem, content_type = "application/problem+json"),
        GuardedRowErrors,
    ))]
pub async fn unassign_role(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(path): AppPath<(Id, String)>,
) -> Result<StatusCode> {
    let (Id(user_id), name) = path;
    users::find(&state.db().read()?, user_id).await?;
    let target = roles::find(&state.db().read()?, &name).await?;
    policy::ensure_may_manage(&viewer)?;
    roles::revoke(state.db().write().await, user_id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}
