//! The pieces of the OpenAPI document that several operations share and that exist only to
//! be documented: a page schema per collection, the path parameters, each resource's
//! `include`/`counts` parameters (listed from the loader's own table, so the document
//! cannot drift from what the server accepts), and the problem+json error responses.

use std::collections::BTreeMap;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    ContentBuilder, Header, HeaderBuilder, Ref, RefOr, Required, Response, ResponseBuilder,
};

use utoipa::{IntoParams, IntoResponses, ToResponse, ToSchema};

use crate::http::v1::extract::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::relations::{Resource, countable, valid_paths};
use crate::wire::repr::{
    CommentOut, FollowOut, PostFavoriteOut, PostOut, RoleAssignmentOut, RoleOut, TagOut,
    UserAssignmentOut, UserFavoriteOut, UserOut,
};

macro_rules! page_schemas {
    ($($(#[$meta:meta])* $page:ident of $item:ident;)*) => {$(
        $(#[$meta])*
        #[derive(ToSchema)]
        pub struct $page {
            /// The page, in the collection's default order; each item carries what
            /// `include` and `counts` asked for.
            pub items: Vec<$item>,
            /// The `cursor` of the next page; `null` on the last one.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
            /// The size of the whole collection; only with `count=true`.
            #[schema(nullable = false)]
            pub total: Option<u64>,
        }
    )*};
}

page_schemas! {
    /// A page of users, by id.
    UserPage of UserOut;
    /// A page of posts, newest first.
    PostPage of PostOut;
    /// A page of comments, oldest first.
    CommentPage of CommentOut;
    /// A page of roles, by name.
    RolePage of RoleOut;
    /// A page of a user's role assignments, by `assigned_at`.
    UserAssignmentPage of UserAssignmentOut;
    /// A page of a role's assignments, by `assigned_at`.
    RoleAssignmentPage of RoleAssignmentOut;
    /// A page of follows, newest first.
    FollowPage of FollowOut;
    /// A page of a post's favorites, newest first.
    PostFavoritePage of PostFavoriteOut;
    /// A page of a user's favorites, newest first.
    UserFavoritePage of UserFavoriteOut;
    /// A page of tags, by name.
    TagPage of TagOut;
}

/// Parameters documented by hand, as unit types implementing [`IntoParams`].
macro_rules! params {
    ($($(#[$meta:meta])* $name:ident => $params:expr;)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                $params
            }
        }
    )*};
}

params! {
    /// `{id}` of a user.
    UserPath => vec![id_in_path("user")];
    /// `{id}` of a post.
    PostPath => vec![id_in_path("post")];
    /// `{id}` of a comment.
    CommentPath => vec![id_in_path("comment")];
    /// `{id}` of a profile.
    ProfilePath => vec![id_in_path("profile")];
    /// `{name}` of a role.
    RolePath => vec![role_in_path()];
    /// `{id}` of a user and `{name}` of a role.
    UserRolePath => vec![id_in_path("user"), role_in_path()];
    /// `{id}` of the user followed and `{follower_id}` of the follower.
    UserFollowerPath => vec![id_in_path("user"), named_id_in_path("follower_id", "follower")];
    /// `{id}` of a post and `{user_id}` of the user favoriting it.
    PostUserPath => vec![id_in_path("post"), named_id_in_path("user_id", "user")];
    /// `{name}` of a tag.
    TagPath => vec![tag_in_path()];
    /// `include`, `counts` and `include_limit` on users.
    UserIncludes => includes(Resource::User);
    /// `include`, `counts` and `include_limit` on posts.
    PostIncludes => includes(Resource::Post);
    /// `include` and `include_limit` on comments.
    CommentIncludes => includes(Resource::Comment);
    /// `include` and `include_limit` on profiles.
    ProfileIncludes => includes(Resource::Profile);
    /// `include`, `counts` and `include_limit` on roles.
    RoleIncludes => includes(Resource::Role);
    /// `counts` on tags.
    TagIncludes => includes(Resource::Tag);
    /// `viewer` alone, on the association lists.
    ViewerParam => vec![viewer_param()];
}

fn id_in_path(what: &str) -> Parameter {
    named_id_in_path("id", what)
}

fn named_id_in_path(name: &str, what: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!(
            "The {what}'s id: an integer from 1 to 2^63−1 (anything else is 400)."
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        ))
        .build()
}

fn role_in_path() -> Parameter {
    ParameterBuilder::new()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "The role's name, e.g. `admin`; a name naming no role is 404.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn tag_in_path() -> Parameter {
    ParameterBuilder::new()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "The tag's name, trimmed and lower-cased before the lookup; a name naming no tag is 404.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn query(name: &str, description: String, schema: ObjectBuilder) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn code_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The eager-loading parameters of `resource` (SPEC §3 "Eager loading").
fn includes(resource: Resource) -> Vec<Parameter> {
    let mut params = vec![query(
        "include",
        format!(
            "Comma-separated relation paths to embed; dots nest. Valid here: {}. An included \
             relation appears under its name: a to-one relation as an object or `null`, a \
             to-many one as an array of at most `include_limit` items beside \
             `<relation>_next_cursor` (`null` when the array is the whole relation, else the \
             cursor of the relation's own endpoint). Role data (`roles`, `users`) needs a \
             token (else 401); an unknown path is 400.",
            code_list(valid_paths(resource))
        ),
        ObjectBuilder::new().schema_type(Type::String),
    )];
    let countable = countable(resource);
    if !countable.is_empty() {
        params.push(query(
            "counts",
            format!(
                "Comma-separated to-many relations to count, added as `counts: {{…}}` to each \
                 item. Valid here: {}.",
                code_list(countable)
            ),
            ObjectBuilder::new().schema_type(Type::String),
        ));
    }
    params.push(query(
        "include_limit",
        format!(
            "Most items of each included to-many relation per parent, 1–{MAX_LIMIT} (default \
             {DEFAULT_LIMIT})."
        ),
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT as f64))
            .default(Some(DEFAULT_LIMIT.into())),
    ));
    params.push(viewer_param());
    params
}

/// `viewer`, which every GET of users or posts (or of what includes them) takes.
pub fn viewer_param() -> Parameter {
    query(
        "viewer",
        "`true` (with a token; else 401) adds the caller's side of the relationships to \
         every item of the answer, included ones too: `favorited` on posts, `following` \
         on users."
            .to_string(),
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .default(Some(false.into())),
    )
}

/// The headers every `/api/v1` response carries (SPEC §3).
pub fn statement_headers() -> [(&'static str, Header); 2] {
    [
        (
            "X-Query-Count",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some(
                    "SQL statements the request sent, transaction control excluded.",
                ))
                .build(),
        ),
        (
            "Server-Timing",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`db;dur=<ms>`: time spent in the database."))
                .build(),
        ),
    ]
}

fn string_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

/// A problem+json response with `extra` headers besides the statement headers.
fn problem(description: &str, extra: &[(&str, &str)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    for (name, header) in extra {
        response = response.header(*name, string_header(header));
    }
    for (name, header) in statement_headers() {
        response = response.header(name, header);
    }
    response.build()
}

/// Error responses shared by many operations, each a `components.responses` entry.
macro_rules! problems {
    ($($(#[$meta:meta])* $name:ident => $description:literal $(, $header:literal: $header_doc:literal)?;)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), problem($description, &[$(($header, $header_doc))?]).into())
            }
        }
    )*};
}

problems! {
    /// 400.
    BadRequest => "Malformed request: bad JSON, query parameter, cursor or include path, or a path id that is not an integer from 1 to 2^63−1.";
    /// 401.
    Unauthorized => "Missing, malformed, expired or revoked token.", "WWW-Authenticate": "`Bearer`.";
    /// 403.
    Forbidden => "Authenticated, but not allowed to do this (`forbidden`).";
    /// 404.
    NotFound => "No such row (`not_found`).";
    /// 413.
    PayloadTooLarge => "The body is larger than 1 MiB.";
    /// 415.
    UnsupportedMediaType => "The body was not sent as `application/json`.";
    /// 422.
    UnprocessableEntity => "Invalid fields, each named in `errors` (`validation_failed`).";
    /// 429.
    TooManyRequests => "Too many attempts (`rate_limited`).", "Retry-After": "Seconds to wait before trying again.";
}

/// Sets of the error responses above that operations list together, as unit types
/// implementing [`IntoResponses`]: `responses((status = 200, …), RowErrors, BodyErrors)`.
/// Each entry is a reference to the `components.responses` entry, as
/// `(status = 400, response = BadRequest)` would be; sets may overlap.
macro_rules! error_sets {
    ($($(#[$meta:meta])* $name:ident => [$($status:literal: $response:ty),* $(,)?];)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$((
                    $status.to_string(),
                    Ref::from_response_name(<$response as ToResponse>::response().0).into(),
                )),*])
            }
        }
    )*};
}

error_sets! {
    /// What any request with a query or a token can meet: 400 and 401.
    CallerErrors => [400: BadRequest, 401: Unauthorized];
    /// [`CallerErrors`] on a path naming a row, which may not exist: 400, 401 and 404.
    RowErrors => [400: BadRequest, 401: Unauthorized, 404: NotFound];
    /// [`RowErrors`] where the caller also needs the right to act: 400, 401, 403 and 404.
    GuardedRowErrors => [400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound];
    /// What a JSON body can meet: its form (400, 413, 415) and its fields (422).
    BodyErrors => [
        400: BadRequest,
        413: PayloadTooLarge,
        415: UnsupportedMediaType,
        422: UnprocessableEntity,
    ];
}
