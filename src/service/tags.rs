//! Tags: the ordered many-to-many between posts and tags (SPEC §5). A post's tags are
//! `post_tags` rows whose `position` keeps the author's order; a tag row is created the
//! first time a post names it and is never deleted by a cascade.
//!
//! A tag named by two posts at once is created once: the names go in with
//! `INSERT … ON CONFLICT (name) DO NOTHING`, and the post's rows are then made from the
//! tags by name.

use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait, Set,
};

use crate::domain::tag_name::{TagList, TagName};
use crate::entity::{post_tag, tag};
use crate::error::{AppError, Result};
use crate::store::Writer;
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::Reader;
use crate::time;
use crate::wire::repr::order;

/// A page of tags by name.
pub async fn list(db: &Reader<'_>, req: &PageRequest) -> Result<Fetched<tag::Model>> {
    page::fetch(db, tag::Entity::find().into_query(), &order::tags(), req).await
}

/// The tag called `raw` once trimmed and lower-cased; 404 when none is, including for a
/// name no tag could have.
pub async fn find_by_name(db: &Reader<'_>, raw: &str) -> Result<tag::Model> {
    let name = TagName::parse(raw).map_err(|_| AppError::not_found("Tag"))?;
    let stmt = tag::Entity::find()
        .filter(tag::Column::Name.eq(name.as_str()))
        .limit(1)
        .into_query();
    db.first(&stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Tag"))
}

/// The names of `post_id`'s tags, in the author's order.
pub async fn names_of_post(db: &Writer<'_>, post_id: i64) -> Result<Vec<String>> {
    Ok(tag::Entity::find()
        .join(JoinType::InnerJoin, post_tag::Relation::Tag.def().rev())
        .filter(post_tag::Column::PostId.eq(post_id))
        .order_by_asc(post_tag::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

/// Makes `tags` the tags of `post_id`, in their order, replacing any it had. Run it in
/// the transaction that creates or changes the post.
pub async fn set_for_post(db: &Writer<'_>, post_id: i64, tags: &TagList) -> Result<()> {
    post_tag::Entity::delete_many()
        .filter(post_tag::Column::PostId.eq(post_id))
        .exec(db)
        .await?;
    add_to_new_post(db, post_id, tags).await
}

/// Gives a post that has no tags yet `tags`, in order (nothing to delete first), in two
/// statements: the names no tag has yet go in (`INSERT … ON CONFLICT (name) DO NOTHING`),
/// then the post's rows are made from the tags by name in one `INSERT … SELECT`, a `CASE`
/// giving each its position. Both go in the order of their key (the names by name, the
/// rows by tag id), so that two writes naming the same tags take their locks in one
/// order (on PostgreSQL, the new names' and the tag counters' rows). Run it in the write
/// transaction of the post: that the second statement sees every name the first made
/// sure of holds there, because SQLite's writes take turns and PostgreSQL's `INSERT … ON
/// CONFLICT` waits for a concurrent insert of the same name to commit before the next
/// statement begins.
pub async fn add_to_new_post(db: &Writer<'_>, post_id: i64, tags: &TagList) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let now = time::now();
    let names: Vec<&str> = tags.names().iter().map(TagName::as_str).collect();
    let mut by_name = names.clone();
    by_name.sort_unstable();
    tag::Entity::insert_many(by_name.iter().map(|name| tag::ActiveModel {
        name: Set(name.to_string()),
        created_at: Set(now),
        ..Default::default()
    }))
    .on_conflict_do_nothing_on([tag::Column::Name])
    .exec_without_returning(db)
    .await?;
    let mut position = CaseStatement::new();
    for (at, name) in names.iter().enumerate() {
        position = position.case(Expr::col(tag::Column::Name).eq(*name), at as i32);
    }
    let rows = Query::select()
        .expr(Expr::val(post_id))
        .column(tag::Column::Id)
        .expr(position)
        .from(tag::Entity)
        .and_where(Expr::col(tag::Column::Name).is_in(names.iter().copied()))
        .order_by(tag::Column::Id, Order::Asc)
        .to_owned();
    let insert = Query::insert()
        .into_table(post_tag::Entity)
        .columns([
            post_tag::Column::PostId,
            post_tag::Column::TagId,
            post_tag::Column::Position,
        ])
        .select_from(rows)
        .map_err(|e| AppError::internal(anyhow::anyhow!("building a post's tags: {e}")))?
        .to_owned();
    let done = db.execute(&insert).await?;
    if done.rows_affected() != names.len() as u64 {
        return Err(AppError::internal(anyhow::anyhow!(
            "{} of {} tags found right after their insert",
            done.rows_affected(),
            names.len()
        )));
    }
    Ok(())
}

/// The name of every tag that at least one post has, by name (code-point order on both
/// databases: the column's collation is `C` on PostgreSQL): one statement.
pub async fn names_in_use(db: &Reader<'_>) -> Result<Vec<String>> {
    let used = Query::select()
        .column((post_tag::Entity, post_tag::Column::TagId))
        .from(post_tag::Entity)
        .to_owned();
    let stmt = Query::select()
        .column((tag::Entity, tag::Column::Name))
        .from(tag::Entity)
        .and_where(Expr::col((tag::Entity, tag::Column::Id)).in_subquery(used))
        .order_by((tag::Entity, tag::Column::Name), Order::Asc)
        .to_owned();
    Ok(db
        .all::<TagNameRow>(&stmt)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect())
}

/// A tag's name alone.
struct TagNameRow(String);

impl crate::store::read::FromRow for TagNameRow {
    fn from_row<R: crate::store::read::Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        row.get(0).map(TagNameRow)
    }
}
