//! The statements of the include loader, built with sea-query for either backend: one
//! batched `SELECT` per relation of the tree for all parents at once (`WHERE key IN
//! (…)`, `ROW_NUMBER() OVER (PARTITION BY key …)` capping to-many relations per parent),
//! one grouped `COUNT(*)` per counted relation; and the row types they return.

use std::sync::LazyLock;

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, Value,
    WindowStatement,
};
use sea_orm::{DbBackend, DbErr, EntityTrait, QueryTrait};

use crate::entity::{comment, post, post_tag, profile, role, tag, user, user_role};
use crate::relations::declared::{Link, Relation};
use crate::service::favorites::{self, PostFavoriteRow, UserFavoriteRow};
use crate::service::follows::{self, FollowRow};
use crate::store::page::SortOrder;
use crate::store::read::{Built, Decoder, FromRow, Row, ShapeCache};

/// `table.column IN (…)` for any number of keys in one statement: a plain list for the
/// usual page, and past that a single JSON-array parameter unpacked by the database, so
/// that neither the parameter limit nor chunking ever changes the statement count.
pub fn key_in(table: &'static str, column: &'static str, keys: &[i64], backend: DbBackend) -> Expr {
    if keys.len() <= 1000 {
        return Expr::col((Alias::new(table), Alias::new(column))).is_in(keys.iter().copied());
    }
    let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_string());
    let sql = match backend {
        DbBackend::Postgres => format!(
            "\"{table}\".\"{column}\" IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)"
        ),
        _ => format!("\"{table}\".\"{column}\" IN (SELECT value FROM json_each(?))"),
    };
    // sea-query binds custom SQL through each backend's own placeholder: `$n` on
    // PostgreSQL, `?` on SQLite (a `?` is left as is on PostgreSQL).
    Expr::cust_with_values(sql, [json])
}

/// Wraps `base` so that it returns at most `n` rows per key, in `order` within each key,
/// and at most `rows` in all: every key's first row before any key's second, so that a
/// statement cut by `rows` still shows how many rows there were at least (the response
/// ceiling, SPEC §6).
fn top_n_per_key(
    mut base: SelectStatement,
    key: (&'static str, &'static str),
    order: &SortOrder,
    n: u64,
    rows: u64,
) -> SelectStatement {
    let mut window = WindowStatement::partition_by((Alias::new(key.0), Alias::new(key.1)));
    for k in order.keys() {
        window.order_by_expr(
            k.expr.clone(),
            if k.desc { Order::Desc } else { Order::Asc },
        );
    }
    base.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("rn"));
    Query::select()
        .column(Asterisk)
        .from_subquery(base, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(n as i64))
        .order_by(Alias::new("rn"), Order::Asc)
        .limit(rows)
        .to_owned()
}

/// Key lists up to this long have their statements' text kept per length (a page and
/// its first level of includes never pass it: `limit` and `include_limit` are at most
/// 100); longer ones are built each time, so the texts kept stay under about 2 MB.
const KEPT_KEY_LISTS: usize = 128;

/// Texts of [`children`] by link and number of keys.
static CHILDREN: LazyLock<ShapeCache<(Link, usize)>> = LazyLock::new(ShapeCache::default);
/// Texts of [`counts`] by link and number of keys.
static COUNTS: LazyLock<ShapeCache<(Link, usize)>> = LazyLock::new(ShapeCache::default);

/// The values of a statement on `keys` followed by `then`.
fn key_values(keys: &[i64], then: impl IntoIterator<Item = Value>) -> Vec<Value> {
    keys.iter()
        .map(|&k| Value::BigInt(Some(k)))
        .chain(then)
        .collect()
}

/// [`children`], built, its text reused from earlier requests with as many keys.
pub fn children_built(link: Link, keys: &[i64], cap: u64, rows: u64, backend: DbBackend) -> Built {
    let build = || children(link, keys, cap, rows, backend);
    if keys.len() > KEPT_KEY_LISTS {
        return Built::now(backend, &build());
    }
    // A to-many link's statement ends with its cap per key and its row limit.
    let then = link
        .order()
        .map(|_| {
            [
                Value::BigInt(Some(cap as i64)),
                Value::BigUnsigned(Some(rows)),
            ]
        })
        .into_iter()
        .flatten();
    CHILDREN.get(backend, (link, keys.len()), key_values(keys, then), build)
}

/// [`counts`], built, its text reused from earlier requests with as many keys.
pub fn counts_built(rel: &Relation, keys: &[i64], backend: DbBackend) -> Built {
    let build = || counts(rel, keys, backend);
    if keys.len() > KEPT_KEY_LISTS {
        return Built::now(backend, &build());
    }
    COUNTS.get(backend, (rel.link, keys.len()), key_values(keys, []), build)
}

/// The children of `link` for all of `keys`, for a to-many link at most `cap` per key and
/// `rows` in all, grouped in the relation's order. The rows are `link`'s [`ChildRow`]
/// shape.
pub fn children(
    link: Link,
    keys: &[i64],
    cap: u64,
    rows: u64,
    backend: DbBackend,
) -> SelectStatement {
    let (table, column) = link.key_column();
    let filter = key_in(table, column, keys, backend);
    let mut base = match link {
        Link::UserById => user::Entity::find().into_query(),
        Link::PostById | Link::PostsByAuthor => post::Entity::find().into_query(),
        Link::ProfileByUser => profile::Entity::find().into_query(),
        Link::CommentsByAuthor | Link::CommentsByPost => comment::Entity::find().into_query(),
        Link::AssignmentsByUser => assignments_of_users(),
        Link::AssignmentsByRole => assignments_of_roles(),
        Link::FollowersOf => follows::with_follower(),
        Link::FollowingOf => follows::with_followee(),
        Link::FavoritesOfUser => favorites::with_post(),
        Link::FavoritesOfPost => favorites::with_user(),
        Link::TagsOfPost => tag_names(),
        Link::PostsOfTag => tagged_posts(),
    };
    base.and_where(filter);
    match link.order() {
        Some(order) => top_n_per_key(base, (table, column), &order, cap, rows),
        None => base,
    }
}

/// `post_tags` rows as (post id, tag name), each post's in the author's order.
fn tag_names() -> SelectStatement {
    Query::select()
        .column((post_tag::Entity, post_tag::Column::PostId))
        .column((tag::Entity, tag::Column::Name))
        .from(post_tag::Entity)
        .inner_join(
            tag::Entity,
            Expr::col((tag::Entity, tag::Column::Id))
                .equals((post_tag::Entity, post_tag::Column::TagId)),
        )
        .order_by((post_tag::Entity, post_tag::Column::PostId), Order::Asc)
        .order_by((post_tag::Entity, post_tag::Column::Position), Order::Asc)
        .to_owned()
}

/// Posts with the id of a tag they carry (a post appears once per tag).
fn tagged_posts() -> SelectStatement {
    let mut stmt = post::Entity::find().into_query();
    stmt.column((post_tag::Entity, post_tag::Column::TagId))
        .inner_join(
            post_tag::Entity,
            Expr::col((post_tag::Entity, post_tag::Column::PostId))
                .equals((post::Entity, post::Column::Id)),
        );
    stmt
}

/// `SELECT key, COUNT(*) … GROUP BY key` of a counted relation for all of `keys`.
pub fn counts(rel: &Relation, keys: &[i64], backend: DbBackend) -> SelectStatement {
    let (table, column) = rel.link.key_column();
    let col = Expr::col((Alias::new(table), Alias::new(column)));
    Query::select()
        .expr_as(col, Alias::new("key"))
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from(Alias::new(table))
        .and_where(key_in(table, column, keys, backend))
        .group_by_col((Alias::new(table), Alias::new(column)))
        .to_owned()
}

/// A fetched child of some link, by the link's shape.
pub enum ChildRow {
    User(user::Model),
    Post(post::Model),
    Profile(profile::Model),
    Comment(comment::Model),
    UserAssignment(UserAssignmentRow),
    RoleAssignment(RoleAssignmentRow),
    /// A follower (as seen from the followed user) or a user followed (as seen from the
    /// follower).
    Follow(FollowRow),
    UserFavorite(UserFavoriteRow),
    PostFavorite(PostFavoriteRow),
    /// (post id, tag name).
    TagName(i64, String),
    /// (tag id, post).
    TaggedPost(i64, post::Model),
}

/// A link decodes the rows of its [`children`] statement.
impl Decoder for Link {
    type Out = ChildRow;
    fn decode<R: Row>(&self, row: &R) -> Result<ChildRow, DbErr> {
        Ok(match self {
            Link::UserById => ChildRow::User(FromRow::from_row(row)?),
            Link::PostById | Link::PostsByAuthor => ChildRow::Post(FromRow::from_row(row)?),
            Link::ProfileByUser => ChildRow::Profile(FromRow::from_row(row)?),
            Link::CommentsByAuthor | Link::CommentsByPost => {
                ChildRow::Comment(FromRow::from_row(row)?)
            }
            Link::AssignmentsByUser => ChildRow::UserAssignment(FromRow::from_row(row)?),
            Link::AssignmentsByRole => ChildRow::RoleAssignment(FromRow::from_row(row)?),
            Link::FollowersOf | Link::FollowingOf => ChildRow::Follow(FromRow::from_row(row)?),
            Link::FavoritesOfUser => ChildRow::UserFavorite(FromRow::from_row(row)?),
            Link::FavoritesOfPost => ChildRow::PostFavorite(FromRow::from_row(row)?),
            Link::TagsOfPost => ChildRow::TagName(row.get(0)?, row.get(1)?),
            Link::PostsOfTag => {
                let post: post::Model = FromRow::from_row(row)?;
                let fields = <post::Model as crate::store::read::Fields>::FIELDS.len();
                ChildRow::TaggedPost(row.get(fields)?, post)
            }
        })
    }
}

/// `user_roles` rows: the link's own columns, then what `side` adds, then the assigner's
/// username (null once the assigner is deleted).
fn assignments(side: impl FnOnce(&mut SelectStatement)) -> SelectStatement {
    let mut stmt = Query::select()
        .columns([
            (user_role::Entity, user_role::Column::UserId),
            (user_role::Entity, user_role::Column::RoleId),
            (user_role::Entity, user_role::Column::AssignedAt),
            (user_role::Entity, user_role::Column::AssignedBy),
        ])
        .from(user_role::Entity)
        .to_owned();
    side(&mut stmt);
    stmt.expr_as(
        Expr::col((Alias::new("assigner"), user::Column::Username)),
        Alias::new("assigner_username"),
    )
    .join_as(
        JoinType::LeftJoin,
        user::Entity,
        Alias::new("assigner"),
        Expr::col((Alias::new("assigner"), user::Column::Id))
            .equals((user_role::Entity, user_role::Column::AssignedBy)),
    )
    .to_owned()
}

/// `user_roles` rows with their role and the assigner's username, as seen from users.
pub fn assignments_of_users() -> SelectStatement {
    assignments(|stmt| {
        for (column, alias) in [
            (role::Column::Name, "role_name"),
            (role::Column::Description, "role_description"),
            (role::Column::CreatedAt, "role_created_at"),
        ] {
            stmt.expr_as(Expr::col((role::Entity, column)), Alias::new(alias));
        }
        stmt.inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user_role::Entity, user_role::Column::RoleId)),
        );
    })
}

/// `user_roles` rows with the user holding them and the assigner's username.
pub fn assignments_of_roles() -> SelectStatement {
    assignments(|stmt| {
        for (column, alias) in [
            (user::Column::Username, "user_username"),
            (user::Column::Email, "user_email"),
            (user::Column::PasswordHash, "user_password_hash"),
            (user::Column::DisplayName, "user_display_name"),
            (user::Column::IsActive, "user_is_active"),
            (user::Column::CreatedAt, "user_created_at"),
            (user::Column::UpdatedAt, "user_updated_at"),
        ] {
            stmt.expr_as(Expr::col((user::Entity, column)), Alias::new(alias));
        }
        stmt.inner_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((user_role::Entity, user_role::Column::UserId)),
        );
    })
}

/// One row of [`assignments_of_users`].
pub struct UserAssignmentRow {
    pub link: user_role::Model,
    pub role: role::Model,
    pub assigner_username: Option<String>,
}

fn link_from_row<R: Row>(row: &R) -> Result<user_role::Model, DbErr> {
    Ok(user_role::Model {
        user_id: row.get(0)?,
        role_id: row.get(1)?,
        assigned_at: row.get(2)?,
        assigned_by: row.get(3)?,
    })
}

impl FromRow for UserAssignmentRow {
    fn from_row<R: Row>(row: &R) -> Result<Self, DbErr> {
        let link = link_from_row(row)?;
        let role = role::Model {
            id: link.role_id,
            name: row.get(4)?,
            description: row.get(5)?,
            created_at: row.get(6)?,
        };
        Ok(UserAssignmentRow {
            link,
            role,
            assigner_username: row.get(7)?,
        })
    }
}

/// One row of [`assignments_of_roles`].
pub struct RoleAssignmentRow {
    pub link: user_role::Model,
    pub user: user::Model,
    pub assigner_username: Option<String>,
}

impl FromRow for RoleAssignmentRow {
    fn from_row<R: Row>(row: &R) -> Result<Self, DbErr> {
        let link = link_from_row(row)?;
        let user = user::Model {
            id: link.user_id,
            username: row.get(4)?,
            email: row.get(5)?,
            password_hash: row.get(6)?,
            display_name: row.get(7)?,
            is_active: row.get(8)?,
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
        };
        Ok(RoleAssignmentRow {
            link,
            user,
            assigner_username: row.get(11)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_key_list_is_bound_as_one_parameter_on_both_backends() {
        let keys: Vec<i64> = (1..=1500).collect();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let stmt = Query::select()
                .column(Asterisk)
                .from(Alias::new("posts"))
                .and_where(key_in("posts", "id", &keys, backend))
                .to_owned();
            let built = backend.build(&stmt);
            // Only a substituted placeholder binds the value.
            assert_eq!(
                built.values.map(|v| v.0.len()),
                Some(1),
                "{backend:?}: {}",
                built.sql
            );
        }
    }
}
