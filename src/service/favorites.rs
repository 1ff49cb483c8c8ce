//! Favorites: the many-to-many between users and posts whose row carries data of its own,
//! when it was made (`favorited_at`). Seen from a user it lists posts, seen from a post it
//! lists users, both newest first.
//!
//! Only the user themself favorites ([`policy`]); `INSERT … ON CONFLICT DO NOTHING` makes
//! concurrent PUTs leave one row, exactly one of them creating it.

use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement};
use sea_orm::{RelationTrait, Set};

use crate::entity::{favorite, post, user};
use crate::error::{AppError, Result};
use crate::service::linked;
use crate::store::Writer;
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::Reader;
use crate::time;
use crate::wire::repr::order;

pub use crate::relations::sql::{PostFavoriteRow, UserFavoriteRow};

/// Who may favorite and unfavorite (SPEC §5), in one place.
pub mod policy {
    use crate::domain::viewer::Viewer;
    use crate::error::{AppError, Result};

    /// Only that user may favorite: an admin too is refused (403).
    pub fn ensure_may_favorite(viewer: &Viewer, user_id: i64) -> Result<()> {
        if viewer.id == user_id {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// That user or an admin may remove a favorite.
    pub fn ensure_may_unfavorite(viewer: &Viewer, user_id: i64) -> Result<()> {
        if viewer.id == user_id || viewer.is_admin {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }
}

fn column(c: favorite::Column) -> Expr {
    Expr::col((favorite::Entity, c))
}

pub fn with_user() -> SelectStatement {
    linked::select::<favorite::Entity, _>(favorite::Relation::User.def(), user::Entity)
}

pub fn with_post() -> SelectStatement {
    linked::select::<favorite::Entity, _>(favorite::Relation::Post.def(), post::Entity)
}

/// Makes `post_id` a favorite of `user_id` and reads it back (as seen from the post), in
/// one write transaction; true when the row was created. 404 when the user or the post
/// vanished meanwhile.
pub async fn favorite(
    writer: Writer<'_>,
    user_id: i64,
    post_id: i64,
) -> Result<(bool, PostFavoriteRow)> {
    let row = favorite::ActiveModel {
        user_id: Set(user_id),
        post_id: Set(post_id),
        created_at: Set(time::now()),
    };
    let txn = writer.begin().await?;
    let created = linked::insert_if_absent(&txn, row, "User or post").await?;
    let favorite = find(&txn, user_id, post_id).await?;
    txn.commit().await?;
    Ok((created, favorite))
}

/// The favorite, as seen from the post (its `user`); 404 when there is none.
pub async fn find(db: &Writer<'_>, user_id: i64, post_id: i64) -> Result<PostFavoriteRow> {
    let mut stmt = with_user();
    stmt.and_where(column(favorite::Column::UserId).eq(user_id))
        .and_where(column(favorite::Column::PostId).eq(post_id));
    linked::one(&db.read(), &stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Favorite"))
}

/// Whether `user_id` favorited `post_id`.
pub async fn exists(db: &Writer<'_>, user_id: i64, post_id: i64) -> Result<bool> {
    linked::exists::<favorite::Entity>(db, (user_id, post_id)).await
}

/// Removes the favorite; 404 when there was none.
pub async fn unfavorite(db: &Writer<'_>, user_id: i64, post_id: i64) -> Result<()> {
    linked::delete_existing::<favorite::Entity>(db, (user_id, post_id), "Favorite").await
}

/// A page of `post_id`'s favorites with their users, newest first.
pub async fn of_post(
    db: &Reader<'_>,
    post_id: i64,
    req: &PageRequest,
) -> Result<Fetched<PostFavoriteRow>> {
    let mut stmt = with_user();
    stmt.and_where(column(favorite::Column::PostId).eq(post_id));
    page::fetch(db, stmt, &order::post_favorites(), req).await
}

/// A page of `user_id`'s favorites with their posts, newest first.
pub async fn of_user(
    db: &Reader<'_>,
    user_id: i64,
    req: &PageRequest,
) -> Result<Fetched<UserFavoriteRow>> {
    let mut stmt = with_post();
    stmt.and_where(column(favorite::Column::UserId).eq(user_id));
    page::fetch(db, stmt, &order::user_favorites(), req).await
}
