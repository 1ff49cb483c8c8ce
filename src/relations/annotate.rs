//! Batched facts about one page of posts and users, for answers that show them beside
//! each item (the Conduit face's articles and profiles): who wrote them, with their bio
//! and avatar; each post's tags and favorite count; and the viewer's side of the
//! relationships (`favorited`, `following`).
//!
//! Each function is one statement for the whole page (`WHERE … IN (…)`), never one per
//! item, and none runs for an empty page, so a read's statement count does not grow with
//! its `limit`. All of them go through the request's [`Reader`], which counts them.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use crate::entity::{favorite, post_tag, profile, tag, user};
use crate::error::Result;
use crate::from_row;
use crate::store::read::{Fields, FromRow, Reader, Row};

/// A user as another face shows them: the account and the profile's `bio` and
/// `avatar_url` (`None` without a profile).
#[derive(Clone, Debug)]
pub struct Person {
    pub user: user::Model,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
}

impl FromRow for Person {
    /// A row of `users LEFT JOIN profiles`: the user's columns, then the profile's.
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        let user = user::Model::from_row(row)?;
        let at = <user::Model as Fields>::FIELDS.len();
        let profile_id: Option<i64> = row.get(at)?;
        let (bio, avatar_url) = match profile_id {
            Some(_) => {
                let p = profile::Model::from_row(&row.skip(at))?;
                (p.bio, p.avatar_url)
            }
            None => (None, None),
        };
        Ok(Person {
            user,
            bio,
            avatar_url,
        })
    }
}

/// The users `ids`, with their profiles' bio and avatar, by id: one statement.
pub async fn people(db: &Reader<'_>, ids: &[i64]) -> Result<HashMap<i64, Person>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = user::Entity::find()
        .find_also_related(profile::Entity)
        .filter(Expr::col((user::Entity, user::Column::Id)).is_in(dedup(ids)))
        .into_query();
    let rows: Vec<Person> = db.all(&stmt).await?;
    Ok(rows.into_iter().map(|p| (p.user.id, p)).collect())
}

/// One user by id with their profile's bio and avatar; `None` when absent.
pub async fn person(db: &Reader<'_>, id: i64) -> Result<Option<Person>> {
    Ok(people(db, &[id]).await?.remove(&id))
}

/// The user called `username` (compared case-insensitively), with their profile's bio
/// and avatar: one statement; `None` when nobody is.
pub async fn person_named(db: &Reader<'_>, username: &str) -> Result<Option<Person>> {
    // PostgreSQL cannot compare text holding NUL, and no username holds one.
    if username.contains('\0') {
        return Ok(None);
    }
    let stmt = user::Entity::find()
        .find_also_related(profile::Entity)
        .filter(
            Expr::expr(Func::lower(Expr::col((
                user::Entity,
                user::Column::Username,
            ))))
            .eq(username.to_lowercase()),
        )
        .limit(1)
        .into_query();
    Ok(db.first(&stmt).await?)
}

// The viewer's side of the relationships is `viewer=true`'s, written once.
pub use crate::relations::viewer::{favorited_among, followed_among};

/// How many users favorited each of `post_ids` (absent: none): one statement.
pub async fn favorite_counts(db: &Reader<'_>, post_ids: &[i64]) -> Result<HashMap<i64, i64>> {
    if post_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let post_id = Expr::col((favorite::Entity, favorite::Column::PostId));
    let stmt = Query::select()
        .expr(post_id.clone())
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from(favorite::Entity)
        .and_where(post_id.clone().is_in(dedup(post_ids)))
        .add_group_by([post_id])
        .to_owned();
    Ok(db.all::<(i64, i64)>(&stmt).await?.into_iter().collect())
}

/// A post's tag, as [`tags_of`] reads it.
struct PostTagName {
    post_id: i64,
    name: String,
}

from_row!(PostTagName { post_id, name });

/// The tag names of each of `post_ids`, in the author's order (absent: none): one
/// statement.
pub async fn tags_of(db: &Reader<'_>, post_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
    if post_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = Query::select()
        .column((post_tag::Entity, post_tag::Column::PostId))
        .column((tag::Entity, tag::Column::Name))
        .from(post_tag::Entity)
        .inner_join(
            tag::Entity,
            Expr::col((tag::Entity, tag::Column::Id))
                .equals((post_tag::Entity, post_tag::Column::TagId)),
        )
        .and_where(Expr::col((post_tag::Entity, post_tag::Column::PostId)).is_in(dedup(post_ids)))
        .order_by((post_tag::Entity, post_tag::Column::PostId), Order::Asc)
        .order_by((post_tag::Entity, post_tag::Column::Position), Order::Asc)
        .to_owned();
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for row in db.all::<PostTagName>(&stmt).await? {
        out.entry(row.post_id).or_default().push(row.name);
    }
    Ok(out)
}

/// `ids` without repeats, in their first order.
fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}
