//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the wire types, served at `GET /api/v1/openapi.json` and printed by `relata openapi`.
//!
//! Every route of the router is an operation here, and the other way round; the test
//! `tests/api/openapi.rs` compares the two. What operations share (page schemas, path and
//! `include` parameters, error responses) lives in [`parts`]; the headers that every
//! `/api/v1` response carries are added once, by [`StatementHeaders`].

pub mod parts;

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::state::AppState;
use parts::*;

/// The document's introduction: what holds for every operation.
const DESCRIPTION: &str = "Relationships between models, served as a REST API.

Every /api/v1 response carries `X-Query-Count` (the SQL statements the request sent) and \
`Server-Timing: db;dur=<ms>`. Errors are RFC 9457 `application/problem+json` with a stable \
`code`; validation failures name each field in `errors`.

Lists answer `{\"items\", \"next_cursor\"}` (plus `\"total\"` with `count=true`) and take \
`limit` (1–100, default 20) and `cursor` (the previous page's `next_cursor`).

Eager loading: `include` embeds related resources and `counts` adds `\"counts\": {…}` to each \
item, in a fixed number of SQL statements whatever the page size. An included relation \
appears on its parent under its name (`profile`, `posts`, `author`…): a to-one relation as \
an object or `null`, a to-many relation as an array of at most `include_limit` items, beside \
`<relation>_next_cursor` — `null` when the array holds the whole relation, else the cursor \
that continues it on the relation's own endpoint (e.g. `posts_next_cursor` for \
`/users/{id}/posts?cursor=…`). Role data needs a token wherever it appears.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Relata", description = DESCRIPTION),
    paths(
        super::health::get_health,
        super::health::get_liveness,
        super::health::get_readiness,
        super::health::get_version,
        get_openapi,
        super::docs::get_docs_page,
        super::auth::register,
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::get_me,
        super::users::list_users,
        super::users::get_user,
        super::users::update_user,
        super::users::delete_user,
        super::profiles::get_user_profile,
        super::profiles::replace_user_profile,
        super::profiles::delete_user_profile,
        super::profiles::get_profile,
        super::posts::list_posts,
        super::posts::create_post,
        super::posts::get_post,
        super::posts::update_post,
        super::posts::delete_post,
        super::posts::list_user_posts,
        super::posts::list_tag_posts,
        super::posts::list_feed,
        super::comments::list_post_comments,
        super::comments::create_comment,
        super::comments::get_comment,
        super::comments::update_comment,
        super::comments::delete_comment,
        super::comments::list_user_comments,
        super::roles::list_roles,
        super::roles::create_role,
        super::roles::get_role,
        super::roles::update_role,
        super::roles::delete_role,
        super::roles::list_role_users,
        super::roles::list_user_roles,
        super::roles::assign_role,
        super::roles::unassign_role,
        super::follows::list_followers,
        super::follows::list_following,
        super::follows::follow_user,
        super::follows::unfollow_user,
        super::favorites::list_post_favorites,
        super::favorites::list_user_favorites,
        super::favorites::favorite_post,
        super::favorites::unfavorite_post,
        super::tags::list_tags,
    ),
    components(
        schemas(crate::error::Problem, crate::error::FieldError),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PayloadTooLarge,
            UnsupportedMediaType,
            UnprocessableEntity,
            TooManyRequests,
        )
    ),
    modifiers(&BearerAuth, &StatementHeaders),
    tags(
        (name = "auth", description = "Registration, tokens and the caller's own record"),
        (name = "users", description = "Accounts"),
        (name = "profiles", description = "A user's one profile (one-to-one)"),
        (name = "posts", description = "Posts, and a user's posts (one-to-many)"),
        (name = "comments", description = "Comments, on a post and by a user (one-to-many)"),
        (name = "roles", description = "Roles and their assignments (many-to-many with an association object)"),
        (name = "follows", description = "Users following users (self-referential many-to-many)"),
        (name = "favorites", description = "Users' favorite posts (many-to-many whose rows carry data)"),
        (name = "tags", description = "Tags and their posts (ordered many-to-many)"),
        (name = "health", description = "Whether the service and its database answer"),
        (name = "docs", description = "This document and the page that renders it"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme that protected operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Adds `X-Query-Count` and `Server-Timing` to every response of every `/api/v1` and `/api`
/// operation written inline (the shared error responses of [`parts`] carry them already).
struct StatementHeaders;

impl Modify for StatementHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        for (name, header) in statement_headers() {
                            response.headers.insert(name.to_string(), header);
                        }
                    }
                }
            }
        }
    }
}

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::conduit::ConduitDoc::openapi());
    doc
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(get_openapi))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "docs",
    summary = "The OpenAPI 3.1 document of every endpoint",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn get_openapi() -> Json<utoipa::openapi::OpenApi> {
    crate::store::set_budget(1);
    Json(document())
}
