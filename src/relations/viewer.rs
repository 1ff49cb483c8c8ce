//! `viewer=true` (SPEC §5): the caller's side of the relationships on every item of an
//! answer, included items too — `favorited` on each post, `following` on each user. The
//! whole answer is marked at once, after the includes are attached: one statement for all
//! its posts and one for all its users, whatever the page size or the include depth.
//! A view that knows its answer holds no posts (or no users) skips that statement
//! ([`Marks`]).

use std::collections::HashSet;

use futures::future::join;
use sea_orm::DbBackend;
use sea_orm::sea_query::{DynIden, Expr, ExprTrait, IntoIden, Query, SelectStatement};

use crate::entity::{favorite, follow};
use crate::error::Result;
use crate::relations::sql::key_in;
use crate::store::read::Reader;
use crate::wire::item::Item;

/// What [`mark`] marks. Each kind marked costs its statement even when the answer
/// happens to hold none of it, so that an answer costs the same whatever rows it holds
/// (SPEC §3's budget is constant in the page size); `viewer=true` marks both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    /// `favorited` on every post.
    pub posts: bool,
    /// `following` on every user.
    pub users: bool,
}

impl Marks {
    pub const ALL: Marks = Marks {
        posts: true,
        users: true,
    };

    /// The statements [`mark`] runs.
    pub fn statements(self) -> usize {
        usize::from(self.posts) + usize::from(self.users)
    }
}

/// The table and column of a key, as the entity names them.
fn key<E: IntoIden, C: IntoIden>(entity: E, column: C) -> (DynIden, DynIden) {
    (entity.into_iden(), column.into_iden())
}

/// `SELECT post_id FROM favorites WHERE user_id = viewer AND post_id IN (…)`.
fn favorited_stmt(viewer_id: i64, post_ids: &[i64], backend: DbBackend) -> SelectStatement {
    Query::select()
        .column((favorite::Entity, favorite::Column::PostId))
        .from(favorite::Entity)
        .and_where(Expr::col((favorite::Entity, favorite::Column::UserId)).eq(viewer_id))
        .and_where({
            let (table, column) = key(favorite::Entity, favorite::Column::PostId);
            key_in(&table, &column, post_ids, backend)
        })
        .to_owned()
}

/// `SELECT followee_id FROM follows WHERE follower_id = viewer AND followee_id IN (…)`.
fn followed_stmt(viewer_id: i64, user_ids: &[i64], backend: DbBackend) -> SelectStatement {
    Query::select()
        .column((follow::Entity, follow::Column::FolloweeId))
        .from(follow::Entity)
        .and_where(Expr::col((follow::Entity, follow::Column::FollowerId)).eq(viewer_id))
        .and_where({
            let (table, column) = key(follow::Entity, follow::Column::FolloweeId);
            key_in(&table, &column, user_ids, backend)
        })
        .to_owned()
}

async fn ids(db: &Reader<'_>, stmt: SelectStatement) -> Result<HashSet<i64>> {
    Ok(db.all::<i64>(&stmt).await?.into_iter().collect())
}

/// Sets `favorited` on every post and `following` on every user in `items` and below, as
/// far as `marks` says: [`Marks::statements`] statements, also when the answer holds no
/// post or no user.
pub async fn mark(db: &Reader<'_>, viewer_id: i64, marks: Marks, items: &mut [Item]) -> Result<()> {
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
    let marked = |on: bool, stmt: SelectStatement| async move {
        match on {
            true => ids(db, stmt).await.map(Some),
            false => Ok(None),
        }
    };
    let (favorited, followed) = join(
        marked(marks.posts, favorited_stmt(viewer_id, &posts, backend)),
        marked(marks.users, followed_stmt(viewer_id, &users, backend)),
    )
    .await;
    let (favorited, followed) = (favorited?, followed?);
    for item in items.iter_mut() {
        item.for_each_out(&mut |out| {
            if let (Some(post), Some(favorited)) = (out.post_mut(), &favorited) {
                post.favorited = Some(favorited.contains(&post.id));
            }
            if let (Some(user), Some(followed)) = (out.user_mut(), &followed) {
                user.following = Some(followed.contains(&user.id));
            }
        });
    }
    Ok(())
}
