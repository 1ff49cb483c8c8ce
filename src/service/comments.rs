//! Comments: on one post, by one user — the child of two one-to-many relationships.
//!
//! Who may do what to a comment is decided in [`authorize`], and nowhere else.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Set,
};

use crate::domain::text::CommentBody;
use crate::domain::viewer::Viewer;
use crate::entity::{comment, post};
use crate::error::{AppError, Result, foreign_key_violation};
use crate::service::auth::UncheckedToken;
use crate::service::posts;
use crate::service::profiles::{self, Person};
use crate::service::with_write::{WithWrite, columns_of};
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::{Fields, Reader};
use crate::store::{Db, Writer};
use crate::wire::repr::order;

/// What a caller wants to do to an existing comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentAction {
    Edit,
    Delete,
}

/// A comment with the author of the post it is on, which deleting it depends on.
pub struct CommentInContext {
    pub comment: comment::Model,
    pub post_author_id: i64,
}

/// SPEC §4's "who" for comments: the author and admins edit; the author, the author of
/// the post, moderators and admins delete. 403 otherwise.
pub fn authorize(viewer: &Viewer, action: CommentAction, target: &CommentInContext) -> Result<()> {
    let is_author = viewer.id == target.comment.author_id;
    let allowed = match action {
        CommentAction::Edit => is_author || viewer.is_admin,
        CommentAction::Delete => {
            is_author
                || viewer.id == target.post_author_id
                || viewer.is_moderator
                || viewer.is_admin
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// One comment with its post's author, in one statement; 404 when absent.
pub async fn find_in_context(db: &Writer<'_>, id: i64) -> Result<CommentInContext> {
    let found = comment::Entity::find_by_id(id)
        .find_also_related(post::Entity)
        .one(db)
        .await?;
    match found {
        Some((comment, Some(post))) => Ok(CommentInContext {
            comment,
            post_author_id: post.author_id,
        }),
        // A comment without its post cannot exist (the foreign key cascades).
        _ => Err(AppError::not_found("Comment")),
    }
}

/// One page of the comments matching `column = key`, oldest first (the comments of a
/// post, or of an author).
async fn list_where(
    db: &Reader<'_>,
    column: comment::Column,
    key: i64,
    page: &PageRequest,
) -> Result<Fetched<comment::Model>> {
    let stmt = comment::Entity::find().filter(column.eq(key)).into_query();
    page::fetch(db, stmt, &order::comments(), page).await
}

/// One page of a post's comments.
pub async fn list_for_post(
    db: &Reader<'_>,
    post_id: i64,
    page: &PageRequest,
) -> Result<Fetched<comment::Model>> {
    list_where(db, comment::Column::PostId, post_id, page).await
}

/// One page of a user's comments.
pub async fn list_for_author(
    db: &Reader<'_>,
    author_id: i64,
    page: &PageRequest,
) -> Result<Fetched<comment::Model>> {
    list_where(db, comment::Column::AuthorId, author_id, page).await
}

/// Creates a comment by `author_id` on `post_id`; 404 when the post was deleted since the
/// caller checked it (the foreign key refuses the row).
///
/// One `INSERT … RETURNING` in autocommit where its commit is reported (PostgreSQL,
/// SQLite's write connection): no `BEGIN`/`COMMIT` round trips. Elsewhere (sqlx-sqlite)
/// in a transaction, so that a failed commit (a full disk) is an error: on its own, SQLite
/// commits an `INSERT … RETURNING` only after the returned row was read, and sqlx-sqlite
/// loses that commit's error (docs/guarantees.md).
pub async fn create(
    writer: Writer<'_>,
    post_id: i64,
    author_id: i64,
    body: CommentBody,
) -> Result<comment::Model> {
    if writer.returning_reports_commit() {
        return insert(&writer, post_id, author_id, body).await;
    }
    let txn = writer.begin().await?;
    let created = insert(&txn, post_id, author_id, body).await?;
    txn.commit().await?;
    Ok(created)
}

/// A new comment by the bearer of `token` on the post with `slug`, checked with the
/// write, answering the checked caller and their profile with the comment (for an answer
/// made without reading back). 401 before 404: the token's refusal wins.
///
/// - PostgreSQL: one statement, the token check, the profile, the post and the comment
///   ([`WithWrite::checked`]): no round trip before the write, nothing written for a token
///   that no longer works.
/// - SQLite (no round trips to save): the check, the profile and the post on a read unit,
///   then [`create`]; so too on PostgreSQL for a slug it cannot compare.
pub async fn create_for_token_with_author(
    db: &mut Db<'_>,
    token: UncheckedToken,
    slug: &str,
    body: CommentBody,
) -> Result<(Viewer, Person, comment::Model)> {
    // A slug no post can have (`posts::check_slug`) is 404 only after the check.
    if db.backend() != DbBackend::Postgres || posts::check_slug(slug).is_err() {
        let (viewer, author, post) = {
            let reader = db.read()?;
            let id = token.user_id();
            let (viewer, author, post) = futures::future::join3(
                token.check(&reader),
                profiles::person(&reader, id),
                posts::find_by_slug(&reader, slug),
            )
            .await;
            let viewer = viewer?;
            (
                viewer,
                author?.ok_or_else(|| AppError::not_found("User"))?,
                post?,
            )
        };
        let created = create(db.write().await, post.id, viewer.id, body).await?;
        return Ok((viewer, author, created));
    }
    let writer = db.write().await;
    let mut write = WithWrite::checked(&token);
    let guard = write.guard();
    let slug = write.bind(slug);
    let author = write.bind(token.user_id());
    let text = write.bind(body.into_inner());
    let at = write.bind(crate::time::now());
    write.cte(format!(
        "target AS (SELECT id FROM posts WHERE slug = {slug} LIMIT 1)"
    ));
    write.cte(format!(
        "created AS (\
           INSERT INTO comments (post_id, author_id, body, created_at, updated_at) \
           SELECT target.id, {author}, {text}, {at}, {at} FROM target WHERE true{guard} \
           RETURNING *)"
    ));
    let columns = columns_of("created", <comment::Model as Fields>::FIELDS);
    // A foreign key refuses the comment when its post was deleted since the snapshot.
    let written = write
        .run_checked(
            &writer,
            &token,
            &columns,
            "LEFT JOIN created ON true",
            "Post",
        )
        .await?;
    // The token passed (or `run_checked` answered 401): no comment means no post.
    let created = written
        .written::<comment::Model>()?
        .ok_or_else(|| AppError::not_found("Post"))?;
    Ok((written.viewer, written.author, created))
}

async fn insert(
    db: &Writer<'_>,
    post_id: i64,
    author_id: i64,
    body: CommentBody,
) -> Result<comment::Model> {
    let now = crate::time::now();
    comment::ActiveModel {
        post_id: Set(post_id),
        author_id: Set(author_id),
        body: Set(body.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| {
        if foreign_key_violation(&err) {
            AppError::not_found("Post")
        } else {
            err.into()
        }
    })
}

/// Replaces a comment's body; 404 when it was deleted meanwhile.
pub async fn update_body(db: &Writer<'_>, id: i64, body: CommentBody) -> Result<comment::Model> {
    comment::Entity::update_many()
        .col_expr(comment::Column::Body, Expr::val(body.into_inner()))
        .col_expr(comment::Column::UpdatedAt, Expr::val(crate::time::now()))
        .filter(comment::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Comment"))
}

/// Deletes a comment; 404 when it was deleted meanwhile.
pub async fn delete(db: &Writer<'_>, id: i64) -> Result<()> {
    let result = comment::Entity::delete_by_id(id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(AppError::not_found("Comment"));
    }
    Ok(())
}

/// Every comment of the post with this slug, oldest first, in one statement (the
/// Conduit face does not page comments); `None` when there are more than `at_most`, of
/// which no more than one over is read. Keyed by the slug rather than the post's id, it
/// needs not wait for the post: both go in one flight.
pub async fn all_for_slug(
    db: &Reader<'_>,
    slug: &str,
    at_most: u64,
) -> Result<Option<Vec<comment::Model>>> {
    posts::check_slug(slug)?;
    let post = Query::select()
        .column((post::Entity, post::Column::Id))
        .from(post::Entity)
        .and_where(Expr::col((post::Entity, post::Column::Slug)).eq(slug))
        .to_owned();
    let mut stmt = comment::Entity::find()
        // `= (SELECT …)`, not `IN (SELECT …)`, which SQLite builds in an ephemeral table
        // per run: a slug names at most one post.
        .filter(Expr::col(comment::Column::PostId).eq(Expr::SubQuery(None, Box::new(post.into()))))
        .into_query();
    order::comments().apply_order(&mut stmt);
    stmt.limit(at_most.saturating_add(1));
    let rows: Vec<comment::Model> = db.all(&stmt).await?;
    Ok((rows.len() as u64 <= at_most).then_some(rows))
}
