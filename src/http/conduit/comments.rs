//! `/api/articles/{slug}/comments`: an article's comments (all of them, oldest first),
//! writing and deleting one; over `service::comments`.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::Deserialize;

use super::error::{ConduitError, ErrorsBody, Refusals, Result};
use super::extract::{Auth, Body, ConduitPath, MaybePending, Pending};
use super::view::{self, CommentBody, CommentList};
use crate::domain::text::CommentBody as CommentText;
use crate::http::state::AppState;
use crate::service::comments::{self, CommentAction};
use crate::service::posts;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/articles/{slug}/comments",
            get(list_comments).post(create_comment),
        )
        .route("/articles/{slug}/comments/{id}", delete(delete_comment))
}

/// All of an article's comments, oldest first.
#[utoipa::path(get, path = "/api/articles/{slug}/comments", tag = "conduit", operation_id = "conduit_list_comments",
    summary = "Conduit: an article's comments",
    security((), ("bearer" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, description = "The comments, oldest first", body = CommentList),
        (status = 401, description = "A token was sent and does not work", body = ErrorsBody),
        (status = 400, description = "More comments than one answer may hold (`RELATA_MAX_RESPONSE_ITEMS`)", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
    ))]
pub async fn list_comments(
    State(state): State<AppState>,
    auth: MaybePending,
    path: std::result::Result<ConduitPath<String>, ConduitError>,
) -> Result<Json<CommentList>> {
    // The article and its comments (by the slug, so that neither waits for the other),
    // and with a token the token, in one flight; then their authors (with the viewer's
    // `following`).
    crate::store::set_budget(3 + usize::from(auth.0.is_some()));
    let handle = state.db();
    let db = handle.read()?;
    // Each comment carries its author: two objects of the response ceiling (SPEC §6).
    let ceiling = state.settings.max_response_items;
    let find = async {
        let ConduitPath(slug) = path?;
        let (post, rows) = futures::future::join(
            posts::find_by_slug(&db, &slug),
            comments::all_for_slug(&db, &slug, ceiling / 2),
        )
        .await;
        // No article is 404 before too many comments.
        Ok::<_, ConduitError>((post?, rows?))
    };
    let (caller, (post, rows)) = auth.check_with(&db, find).await?;
    let viewer = caller.as_ref().map(|c| &c.viewer);
    let rows = rows.ok_or_else(|| {
        ConduitError::new(
            StatusCode::BAD_REQUEST,
            "comments",
            format!(
                "are more than one answer may hold ({ceiling} items with their authors, \
                     RELATA_MAX_RESPONSE_ITEMS); read them page by page from \
                     /api/v1/posts/{}/comments",
                post.id
            ),
        )
    })?;
    Ok(Json(CommentList {
        comments: view::comments(&db, viewer, rows).await?,
    }))
}

/// `{"comment": {"body"}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewComment {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

/// `{"comment": {…}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCommentRequest {
    pub comment: NewComment,
}

/// A new comment by the caller. The token is checked with the write (on PostgreSQL inside
/// its statement, which also finds the article:
/// `comments::create_for_token_with_author`), which reads the caller's profile too, and
/// the answer is made from them: on PostgreSQL the request is one statement. A refusal
/// answers 401, then 404, then 422, each once what goes before it passed.
#[utoipa::path(post, path = "/api/articles/{slug}/comments", tag = "conduit", operation_id = "conduit_create_comment",
    summary = "Conduit: comment on an article",
    security(("bearer" = [])),
    params(("slug" = String, Path)),
    request_body = NewCommentRequest,
    responses(
        (status = 201, description = "The new comment", body = CommentBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "`body: can't be blank`, or the body is not JSON", body = ErrorsBody),
    ))]
pub async fn create_comment(
    State(state): State<AppState>,
    auth: Pending,
    path: std::result::Result<ConduitPath<String>, ConduitError>,
    body: Body,
) -> Result<(StatusCode, Json<CommentBody>)> {
    let mut handle = state.db();
    let text = comment_text(body);
    let (slug, text) = match (path, text) {
        (Ok(ConduitPath(slug)), Ok(text)) => (slug, text),
        (path, text) => {
            let db = handle.read()?;
            let post = async {
                let ConduitPath(slug) = path?;
                Ok(posts::find_by_slug(&db, &slug).await?)
            };
            auth.check_with(&db, post).await?;
            // The token and the article passed: the body is what was refused.
            return Err(text
                .err()
                .unwrap_or_else(|| ConduitError::not_found("article")));
        }
    };
    let (_, author, created) =
        comments::create_for_token_with_author(&mut handle, auth.0.into_unchecked(), &slug, text)
            .await?;
    Ok((
        StatusCode::CREATED,
        Json(CommentBody {
            comment: view::new_comment(created, &author),
        }),
    ))
}

/// The comment of a `POST …/comments` body, or its refusal.
fn comment_text(body: Body) -> Result<CommentText> {
    let fields = body.fields("comment")?;
    let mut refusals = Refusals::default();
    let text = match fields.text("body", &mut refusals).non_blank() {
        Some(text) => refusals.check("body", CommentText::parse(&text)),
        None => {
            refusals.reject("body", "can't be blank");
            None
        }
    };
    refusals.finish()?;
    text.ok_or_else(|| ConduitError::invalid("body", "can't be blank"))
}

/// Deletes a comment (its author, the article's author, a moderator or an admin).
#[utoipa::path(delete, path = "/api/articles/{slug}/comments/{id}", tag = "conduit", operation_id = "conduit_delete_comment",
    summary = "Conduit: delete a comment",
    security(("bearer" = [])),
    params(("slug" = String, Path), ("id" = String, Path, description = "The comment's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 403, description = "`comment: forbidden`", body = ErrorsBody),
        (status = 404, description = "`article: not found`, or `comment: not found` (also for a comment of another article)", body = ErrorsBody),
    ))]
pub async fn delete_comment(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath((slug, id)): ConduitPath<(String, String)>,
) -> Result<StatusCode> {
    let post = posts::find_by_slug(&state.db().read()?, &slug).await?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| ConduitError::not_found("comment"))?;
    let mut db = state.db();
    let write = db.write().await;
    let target = comments::find_in_context(&write, id).await?;
    if target.comment.post_id != post.id {
        return Err(ConduitError::not_found("comment"));
    }
    comments::authorize(&caller.viewer, CommentAction::Delete, &target)
        .map_err(|_| ConduitError::forbidden("comment"))?;
    let txn = write.begin().await?;
    comments::delete(&txn, id).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
