//! Posts: the one-to-many side of a user, and the parent of comments.
//!
//! Who may do what to a post is decided in [`authorize`], and nowhere else.

use sea_orm::sea_query::{Expr, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryTrait, Set,
};

use crate::domain::text::{Content, Title};
use crate::entity::{comment, post};
use crate::error::{AppError, Result};
use crate::service::auth::Viewer;
use crate::service::lookup;
use crate::service::page::{self, Fetched, PageRequest};
use crate::service::read::Reader;
use crate::service::repr::{CascadePreview, order};
use crate::state::AppState;

/// A post to create, already validated.
pub struct NewPost {
    pub title: Title,
    pub content: Content,
}

/// The fields a PATCH changes; `None` leaves a field as it is.
pub struct PostChanges {
    pub title: Option<Title>,
    pub content: Option<Content>,
}

/// The filters of a post list (`GET /posts`, `GET /users/{id}/posts`).
#[derive(Debug, Default)]
pub struct PostFilter {
    pub author_id: Option<i64>,
    /// A case-insensitive substring of the title, matched literally (`%` and `_` too).
    pub title_contains: Option<String>,
}

/// What a caller wants to do to an existing post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostAction {
    Edit,
    Delete,
}

/// SPEC §4's "who" for posts: the author and admins edit; the author, moderators and
/// admins delete. 403 otherwise.
pub fn authorize(viewer: &Viewer, action: PostAction, post: &post::Model) -> Result<()> {
    let is_author = viewer.id == post.author_id;
    let allowed = match action {
        PostAction::Edit => is_author || viewer.is_admin,
        PostAction::Delete => is_author || viewer.is_moderator || viewer.is_admin,
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// One post, or 404.
pub async fn find<C: ConnectionTrait>(db: &Reader<'_, C>, id: i64) -> Result<post::Model> {
    lookup::find::<post::Entity, _>(db, id, "Post").await
}

/// `lower(column) LIKE lower(pattern) ESCAPE '\'` where `pattern` finds `needle` anywhere,
/// with the wildcards `%` and `_` (and the escape character itself) in `needle` taken
/// literally. `lower()` on both sides makes SQLite and PostgreSQL agree (SQLite's `LIKE`
/// is case-insensitive for ASCII only, PostgreSQL's not at all).
pub fn contains_case_insensitive(backend: DbBackend, column: Expr, needle: &str) -> Expr {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    // sea-query binds custom SQL through each backend's own placeholder.
    let sql = match backend {
        DbBackend::Postgres => "lower($1) LIKE lower($2) ESCAPE '\\'",
        _ => "lower(?) LIKE lower(?) ESCAPE '\\'",
    };
    Expr::cust_with_exprs(sql, [column, Expr::val(pattern)])
}

/// The filtered posts, in no order yet (the page adds the default order and the cursor).
fn filtered(backend: DbBackend, owner: Option<i64>, filter: &PostFilter) -> SelectStatement {
    let mut select = post::Entity::find();
    // The owner of a relationship endpoint and the `author_id` filter both apply.
    for author_id in [owner, filter.author_id].into_iter().flatten() {
        select = select.filter(post::Column::AuthorId.eq(author_id));
    }
    if let Some(needle) = &filter.title_contains {
        select = select.filter(contains_case_insensitive(
            backend,
            Expr::col((post::Entity, post::Column::Title)),
            needle,
        ));
    }
    select.into_query()
}

/// One page of posts, newest first, of `owner` when given (`/users/{id}/posts`), else of
/// everyone; one statement (two with `count=true`).
pub async fn list<C: ConnectionTrait>(
    db: &Reader<'_, C>,
    owner: Option<i64>,
    filter: &PostFilter,
    page: &PageRequest,
) -> Result<Fetched<post::Model>> {
    let stmt = filtered(db.backend(), owner, filter);
    page::fetch(db, stmt, &order::posts(), page).await
}

/// Creates a post by `author_id`.
pub async fn create(state: &AppState, author_id: i64, new: NewPost) -> Result<post::Model> {
    let now = crate::time::now();
    let created = post::ActiveModel {
        author_id: Set(author_id),
        title: Set(new.title.into_inner()),
        content: Set(new.content.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(created)
}

/// Applies `changes` to `post`; 404 when it was deleted meanwhile. A PATCH that changes
/// nothing writes nothing and leaves `updated_at` alone.
pub async fn update(
    state: &AppState,
    post: post::Model,
    changes: PostChanges,
) -> Result<post::Model> {
    if changes.title.is_none() && changes.content.is_none() {
        return Ok(post);
    }
    let mut update = post::Entity::update_many()
        .col_expr(post::Column::UpdatedAt, Expr::val(crate::time::now()))
        .filter(post::Column::Id.eq(post.id));
    if let Some(title) = changes.title {
        update = update.col_expr(post::Column::Title, Expr::val(title.into_inner()));
    }
    if let Some(content) = changes.content {
        update = update.col_expr(post::Column::Content, Expr::val(content.into_inner()));
    }
    update
        .exec_with_returning(&state.db)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Post"))
}

/// What deleting `post` would delete: the post and its comments (SPEC §3 "Cascade
/// preview"). Nothing else references a post.
pub async fn deletion_preview<C: ConnectionTrait>(
    db: &C,
    post: &post::Model,
) -> Result<CascadePreview> {
    let comments = comment::Entity::find()
        .filter(comment::Column::PostId.eq(post.id))
        .count(db)
        .await?;
    let mut preview = CascadePreview::default();
    preview.delete.insert("posts", 1);
    preview.delete.insert("comments", comments);
    Ok(preview)
}

/// Deletes `post`; the database's `ON DELETE CASCADE` takes its comments in the same
/// statement. 404 when it was deleted meanwhile.
pub async fn delete(state: &AppState, post: &post::Model) -> Result<()> {
    let result = post::Entity::delete_by_id(post.id).exec(&state.db).await?;
    if result.rows_affected == 0 {
        return Err(AppError::not_found("Post"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_search_binds_its_pattern_on_both_backends() {
        let filter = PostFilter {
            author_id: None,
            title_contains: Some("50%_off\\".into()),
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let stmt = backend.build(&filtered(backend, None, &filter));
            assert!(
                stmt.sql.contains(r#"lower("posts"."title") LIKE lower("#),
                "{backend:?}: {}",
                stmt.sql
            );
            let values = stmt.values.expect("a bound pattern").0;
            assert_eq!(values, vec![sea_orm::Value::from(r"%50\%\_off\\%")]);
        }
    }
}
