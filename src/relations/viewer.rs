//! `viewer=true` (SPEC §5): the caller's side of the relationships on every item of an
//! answer, included items too — `favorited` on each post, `following` on each user.
//!
//! A mark needs only the ids of what it marks, so it never waits for the assembled
//! answer (on PostgreSQL each wait is a round trip):
//!
//! - the posts and users of the page itself are known before anything is loaded: one
//!   statement per kind for the whole page ([`RootMarks`]), sent in the same flight as
//!   the first level of includes;
//! - a post or user an include loads is marked by a column of the statement that loads
//!   it ([`Mark::exists`]: `EXISTS (…)` on the viewer's favorite or follow), which costs
//!   no statement at all.
//!
//! So marking costs at most one statement per kind, whatever the page size or the
//! include depth. A view that knows its answer holds no posts (or no users) skips them
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

pub use super::declared::{Mark, Marks};

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

/// The marks of the page's own items (not of what is included below them), which need
/// only the items' ids and so run beside the first level of includes.
pub struct RootMarks {
    favorited: Option<HashSet<i64>>,
    followed: Option<HashSet<i64>>,
}

impl RootMarks {
    /// Reads, as far as `marks` says, which of the posts `items` are or hold `viewer_id`
    /// favorited and which of their users they follow: one statement per kind the page
    /// holds (a page's items are all of one kind, so the count depends on the endpoint,
    /// never on the rows).
    pub async fn read(
        db: &Reader<'_>,
        viewer_id: i64,
        marks: Marks,
        (posts, users): (Vec<i64>, Vec<i64>),
    ) -> Result<RootMarks> {
        let backend = db.backend();
        let marked = |on: bool, ids_of: &[i64], stmt: fn(i64, &[i64], DbBackend) -> _| {
            let stmt: Option<SelectStatement> =
                (on && !ids_of.is_empty()).then(|| stmt(viewer_id, ids_of, backend));
            async move {
                match stmt {
                    Some(stmt) => ids(db, stmt).await.map(Some),
                    None => Ok(None),
                }
            }
        };
        let (favorited, followed) = join(
            marked(marks.posts, &posts, favorited_stmt),
            marked(marks.users, &users, followed_stmt),
        )
        .await;
        Ok(RootMarks {
            favorited: favorited?,
            followed: followed?,
        })
    }

    /// The ids [`RootMarks::read`] asks about: the posts and users `items` are or hold,
    /// themselves only (included items carry their marks from their own statement).
    pub fn ids_of(items: &mut [Item]) -> (Vec<i64>, Vec<i64>) {
        let (mut posts, mut users) = (Vec::new(), Vec::new());
        for item in items.iter_mut() {
            if let Some(post) = item.out.post_mut() {
                posts.push(post.id);
            }
            if let Some(user) = item.out.user_mut() {
                users.push(user.id);
            }
        }
        for ids in [&mut posts, &mut users] {
            ids.sort_unstable();
            ids.dedup();
        }
        (posts, users)
    }

    /// Sets `favorited` and `following` on the page's own items.
    pub fn apply(&self, items: &mut [Item]) {
        for item in items.iter_mut() {
            if let (Some(post), Some(favorited)) = (item.out.post_mut(), &self.favorited) {
                post.favorited = Some(favorited.contains(&post.id));
            }
            if let (Some(user), Some(followed)) = (item.out.user_mut(), &self.followed) {
                user.following = Some(followed.contains(&user.id));
            }
        }
    }
}
