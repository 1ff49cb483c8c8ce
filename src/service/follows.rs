//! Follows: the self-referential many-to-many between users (SPEC §5). One `follows` row
//! says `follower_id` follows `followee_id`; a user's followers and whom they follow are
//! the two views of the same table, each newest first.
//!
//! Who may do what is [`policy`]. The database settles every race: a follow is
//! `INSERT … ON CONFLICT DO NOTHING` (so of concurrent PUTs exactly one creates the row),
//! and the CHECK `follower_id <> followee_id` backs the 422 for following yourself.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{RelationTrait, Set};

use crate::entity::{follow, user};
use crate::error::{AppError, Result};
use crate::service::linked;
use crate::store::Writer;
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::Reader;
use crate::time;
use crate::wire::repr::order;

pub use crate::relations::sql::FollowRow;

/// Who may follow and unfollow (SPEC §5), in one place.
pub mod policy {
    use crate::domain::viewer::Viewer;
    use crate::error::{AppError, Result};

    /// Only the follower themself may follow: an admin too is refused (403).
    pub fn ensure_may_follow(viewer: &Viewer, follower_id: i64) -> Result<()> {
        if viewer.id == follower_id {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// The follower or an admin may end a follow.
    pub fn ensure_may_unfollow(viewer: &Viewer, follower_id: i64) -> Result<()> {
        if viewer.id == follower_id || viewer.is_admin {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// Nobody follows themself (422, naming the follower).
    pub fn ensure_not_self(follower_id: i64, followee_id: i64) -> Result<()> {
        if follower_id == followee_id {
            Err(AppError::invalid_field(
                "follower_id",
                "a user cannot follow themself",
            ))
        } else {
            Ok(())
        }
    }
}

/// Follows of `followee_id` with their followers.
pub fn with_follower() -> sea_orm::sea_query::SelectStatement {
    linked::select::<follow::Entity, _>(follow::Relation::Follower.def(), user::Entity)
}

/// Follows by `follower_id` with the users followed.
pub fn with_followee() -> sea_orm::sea_query::SelectStatement {
    linked::select::<follow::Entity, _>(follow::Relation::Followee.def(), user::Entity)
}

fn column(c: follow::Column) -> Expr {
    Expr::col((follow::Entity, c))
}

/// Makes `follower_id` follow `followee_id` and reads the follow back (as seen from the
/// followed user), in one write transaction; true when the row was created, false when
/// it existed. 404 when either user vanished meanwhile.
pub async fn follow(
    writer: Writer<'_>,
    follower_id: i64,
    followee_id: i64,
) -> Result<(bool, FollowRow)> {
    policy::ensure_not_self(follower_id, followee_id)?;
    let row = follow::ActiveModel {
        follower_id: Set(follower_id),
        followee_id: Set(followee_id),
        created_at: Set(time::now()),
    };
    let txn = writer.begin().await?;
    let created = linked::insert_if_absent(&txn, row, "User").await?;
    let follow = find(&txn, follower_id, followee_id).await?;
    txn.commit().await?;
    Ok((created, follow))
}

/// The follow of `followee_id` by `follower_id`, as seen from the followed user (its
/// `user` is the follower); 404 when there is none.
pub async fn find(db: &Writer<'_>, follower_id: i64, followee_id: i64) -> Result<FollowRow> {
    let mut stmt = with_follower();
    stmt.and_where(column(follow::Column::FollowerId).eq(follower_id))
        .and_where(column(follow::Column::FolloweeId).eq(followee_id));
    linked::one(&db.read(), &stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Follow"))
}

/// Whether `follower_id` follows `followee_id`.
pub async fn exists(db: &Writer<'_>, follower_id: i64, followee_id: i64) -> Result<bool> {
    linked::exists::<follow::Entity>(db, (follower_id, followee_id)).await
}

/// Ends the follow; 404 when there was none.
pub async fn unfollow(db: &Writer<'_>, follower_id: i64, followee_id: i64) -> Result<()> {
    linked::delete_existing::<follow::Entity>(db, (follower_id, followee_id), "Follow").await
}

/// A page of `user_id`'s followers, newest first.
pub async fn followers(
    db: &Reader<'_>,
    user_id: i64,
    req: &PageRequest,
) -> Result<Fetched<FollowRow>> {
    let mut stmt = with_follower();
    stmt.and_where(column(follow::Column::FolloweeId).eq(user_id));
    page::fetch(db, stmt, &order::followers(), req).await
}

/// A page of the users `user_id` follows, newest first.
pub async fn following(
    db: &Reader<'_>,
    user_id: i64,
    req: &PageRequest,
) -> Result<Fetched<FollowRow>> {
    let mut stmt = with_followee();
    stmt.and_where(column(follow::Column::FollowerId).eq(user_id));
    page::fetch(db, stmt, &order::following(), req).await
}
