//! `viewer=true` (SPEC §5): the caller's side of the relationships on every item of an
//! answer, included items too — `favorited` on each post, `following` on each user. The
//! whole answer is marked at once, after the includes are attached: one statement for all
//! its posts and one for all its users, whatever the page size or the include depth.

use std::collections::HashSet;

use futures::future::join;
use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};

use crate::entity::{favorite, follow};
use crate::error::Result;
use crate::relations::sql::key_in;
use crate::store::read::Reader;
use crate::wire::item::Item;

/// The statements [`mark`] runs: always both, so that an answer costs the same
/// whatever rows it happens to hold (SPEC §3's budget is constant in the page size).
pub const STATEMENTS: usize = 2;

/// `SELECT post_id FROM favorites WHERE user_id = viewer AND post_id IN (…)`.
fn favorited_stmt(viewer_id: i64, post_ids: &[i64], backend: DbBackend) -> SelectStatement {
    Query::select()
        .column((favorite::Entity, favorite::Column::PostId))
        .from(favorite::Entity)
        .and_where(Expr::col((favorite::Entity, favorite::Column::UserId)).eq(viewer_id))
        .and_where(key_in("favorites", "post_id", post_ids, backend))
        .to_owned()
}

/// `SELECT followee_id FROM follows WHERE follower_id = viewer AND followee_id IN (…)`.
fn followed_stmt(viewer_id: i64, user_ids: &[i64], backend: DbBackend) -> SelectStatement {
    Query::select()
        .column((follow::Entity, follow::Column::FolloweeId))
        .from(follow::Entity)
        .and_where(Expr::col((follow::Entity, follow::Column::FollowerId)).eq(viewer_id))
        .and_where(key_in("follows", "followee_id", user_ids, backend))
        .to_owned()
}

async fn ids(db: &Reader<'_>, stmt: SelectStatement) -> Result<HashSet<i64>> {
    Ok(db.all::<i64>(&stmt).await?.into_iter().collect())
}

/// Of `post_ids`, those `viewer_id` favorited: one statement (none for no ids).
pub async fn favorited_among(
    db: &Reader<'_>,
    viewer_id: i64,
    post_ids: &[i64],
) -> Result<HashSet<i64>> {
    if post_ids.is_empty() {
        return Ok(HashSet::new());
    }
    ids(db, favorited_stmt(viewer_id, post_ids, db.backend())).await
}

/// Of `user_ids`, those `viewer_id` follows: one statement (none for no ids).
pub async fn followed_among(
    db: &Reader<'_>,
    viewer_id: i64,
    user_ids: &[i64],
) -> Result<HashSet<i64>> {
    if user_ids.is_empty() {
        return Ok(HashSet::new());
    }
    ids(db, followed_stmt(viewer_id, user_ids, db.backend())).await
}

/// Sets `favorited` on every post and `following` on every user in `items` and below:
/// [`STATEMENTS`] statements, also when the answer holds no post or no user.
pub async fn mark(db: &Reader<'_>, viewer_id: i64, items: &mut [Item]) -> Result<()> {
    let (mut posts, mut users) = (Vec::new(), Vec::new());
    for item in items.iter_mut() {
        item.for_each_out(&mut |out| {
            if let Some(post) = out.post_mut() {
                posts.push(post.id);
            }
            if let Some(user) = out.user_mut() {
                users.push(user.id);
            }
        });
    }
    for ids in [&mut posts, &mut users] {
        ids.sort_unstable();
        ids.dedup();
    }
    let backend = db.backend();
    let (favorited, followed) = join(
        ids(db, favorited_stmt(viewer_id, &posts, backend)),
        ids(db, followed_stmt(viewer_id, &users, backend)),
    )
    .await;
    let (favorited, followed) = (favorited?, followed?);
    for item in items.iter_mut() {
        item.for_each_out(&mut |out| {
            if let Some(post) = out.post_mut() {
                post.favorited = Some(favorited.contains(&post.id));
            }
            if let Some(user) = out.user_mut() {
                user.following = Some(followed.contains(&user.id));
            }
        });
    }
    Ok(())
}
