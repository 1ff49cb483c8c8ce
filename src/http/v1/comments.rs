//! Comments: `/posts/{id}/comments`, `/comments/{id}` and the relationship endpoint
//! `/users/{id}/comments`.
//!
//! Mutating handlers follow SPEC §3's order: the token (401) and the body's form
//! (415/413/400) are checked by the extractors, then the rows are found (404), then the
//! caller is authorized (403), and only then are the fields validated (422).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::text::CommentBody;
use crate::entity::{comment, post, user};
use crate::error::{FieldErrors, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{
    AppPath, AuthUser, Id, IncludeQuery, JsonBody, ListParams, ListQuery, MaybeAuthUser, non_null,
    required,
};
use crate::http::v1::openapi::parts::{
    BodyErrors, CommentIncludes, CommentPage, CommentPath, GuardedRowErrors, PostPath, RowErrors,
    UserPath,
};
use crate::http::v1::respond::{ListRead, OneRead, created};
use crate::relations::{Find, Resource};
use crate::service::comments::{self, CommentAction};
use crate::service::lookup;
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{CommentOut, order};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/posts/{id}/comments",
            get(list_post_comments).post(create_comment),
        )
        .route(
            "/comments/{id}",
            get(get_comment)
                .patch(update_comment)
                .delete(delete_comment),
        )
        .route("/users/{id}/comments", get(list_user_comments))
}

fn comment_item(comment: &comment::Model) -> Item {
    Item::from(CommentOut::from(comment))
}

/// `POST /posts/{id}/comments` and `PATCH /comments/{id}`: the body is the only field.
/// On PATCH an absent `body` changes nothing.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// 1–10 000 characters, not only whitespace; required on POST.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 10000)]
    pub body: Option<String>,
}

impl CommentRequest {
    /// The body of a new comment, which must be given.
    fn required_body(self, mut errors: FieldErrors) -> Result<CommentBody> {
        let body = errors.check(
            "body",
            required(self.body).and_then(|b| CommentBody::parse(&b)),
        );
        errors.finish(body)
    }

    /// The new body of an edited comment, when one was given.
    fn optional_body(self, mut errors: FieldErrors) -> Result<Option<CommentBody>> {
        let body = errors.check(
            "body",
            self.body.as_deref().map(CommentBody::parse).transpose(),
        );
        errors.finish(body)
    }
}

/// `GET /posts/{id}/comments`: oldest first.
#[utoipa::path(get, path = "/api/v1/posts/{id}/comments", tag = "comments",
    summary = "List a post's comments, oldest first",
    security((), ("bearer" = [])),
    params(PostPath, ListParams, CommentIncludes),
    responses(
        (status = 200, description = "A page of the post's comments", body = CommentPage),
        RowErrors,
    ))]
pub async fn list_post_comments(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(post_id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare(
        Resource::Comment,
        order::comments(),
        ListScope::new(format!("/posts/{post_id}/comments")),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<post::Entity>(&db, post_id, "Post").await?;
    let fetched = comments::list_for_post(&db, post_id, &read.page).await?;
    read.respond(&db, fetched, |c| comment_item(&c)).await
}

/// `GET /users/{id}/comments`: that user's comments, oldest first.
#[utoipa::path(get, path = "/api/v1/users/{id}/comments", tag = "comments",
    summary = "List a user's comments, oldest first",
    security((), ("bearer" = [])),
    params(UserPath, ListParams, CommentIncludes),
    responses(
        (status = 200, description = "A page of the user's comments", body = CommentPage),
        RowErrors,
    ))]
pub async fn list_user_comments(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare(
        Resource::Comment,
        order::comments(),
        ListScope::new(format!("/users/{user_id}/comments")),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<user::Entity>(&db, user_id, "User").await?;
    let fetched = comments::list_for_author(&db, user_id, &read.page).await?;
    read.respond(&db, fetched, |c| comment_item(&c)).await
}

/// `POST /posts/{id}/comments`: the caller is the author.
#[utoipa::path(post, path = "/api/v1/posts/{id}/comments", tag = "comments",
    summary = "Comment on a post",
    security(("bearer" = [])),
    params(PostPath),
    request_body = CommentRequest,
    responses(
        (status = 201, description = "The new comment", body = CommentOut,
            headers(("Location" = String, description = "`/api/v1/comments/{id}`"))),
        RowErrors, BodyErrors,
    ))]
pub async fn create_comment(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(post_id)): AppPath<Id>,
    body: JsonBody,
) -> Result<Response> {
    lookup::require::<post::Entity>(&state.db().read()?, post_id, "Post").await?;
    let text = body
        .parse::<CommentRequest>()?
        .check(CommentRequest::required_body)?;
    let mut db = state.db();
    let comment = comments::create(db.write().await, post_id, viewer.id, text).await?;
    Ok(created(
        format!("/api/v1/comments/{}", comment.id),
        comment_item(&comment),
    ))
}

/// `GET /comments/{id}`.
#[utoipa::path(get, path = "/api/v1/comments/{id}", tag = "comments",
    summary = "Read a comment",
    security((), ("bearer" = [])),
    params(CommentPath, CommentIncludes),
    responses(
        (status = 200, description = "The comment", body = CommentOut),
        RowErrors,
    ))]
pub async fn get_comment(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::Comment, &include, viewer.as_ref())?;
    let handle = state.db();
    let db = handle.read()?;
    read.respond_found(&db, Find::id(Resource::Comment, id), "Comment", |comment| {
        comment_item(&comment)
    })
    .await
}

/// `PATCH /comments/{id}`: the author or an admin.
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "comments",
    summary = "Change a comment",
    security(("bearer" = [])),
    params(CommentPath),
    request_body = CommentRequest,
    responses(
        (status = 200, description = "The changed comment", body = CommentOut),
        GuardedRowErrors, BodyErrors,
    ))]
pub async fn update_comment(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    body: JsonBody,
) -> Result<Json<Item>> {
    let mut db = state.db();
    let write = db.write().await;
    let target = comments::find_in_context(&write, id).await?;
    comments::authorize(&viewer, CommentAction::Edit, &target)?;
    let comment = match body
        .parse::<CommentRequest>()?
        .check(CommentRequest::optional_body)?
    {
        Some(text) => comments::update_body(&write, id, text).await?,
        None => target.comment,
    };
    Ok(Json(comment_item(&comment)))
}

/// `DELETE /comments/{id}`: the author, the post's author, a moderator or an admin.
#[utoipa::path(delete, path = "/api/v1/comments/{id}", tag = "comments",
    summary = "Delete a comment",
    security(("bearer" = [])),
    params(CommentPath),
    responses(
        (status = 204, description = "Deleted"),
        GuardedRowErrors,
    ))]
pub async fn delete_comment(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
) -> Result<Response> {
    let mut db = state.db();
    let write = db.write().await;
    let target = comments::find_in_context(&write, id).await?;
    comments::authorize(&viewer, CommentAction::Delete, &target)?;
    comments::delete(&write, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
