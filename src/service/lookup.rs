//! Finding one row by id, the first step of every single-resource endpoint and of every
//! relationship endpoint (`/users/{id}/posts` answers 404 for an absent user before it
//! reads a page): one statement, and a 404 naming what was missing.

use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, PrimaryKeyTrait, QuerySelect, QueryTrait};

use crate::error::{AppError, Result};
use crate::service::read::{FromRow, Reader};

/// The row of `E` with primary key `id`, or 404 "`what` not found.".
pub async fn find<E, C>(db: &Reader<'_, C>, id: i64, what: &str) -> Result<E::Model>
where
    E: EntityTrait,
    E::Model: FromRow,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    C: ConnectionTrait,
{
    let stmt = E::find_by_id(id).limit(1).into_query();
    db.first(&stmt)
        .await?
        .ok_or_else(|| AppError::not_found(what))
}

/// Ok when a row of `E` with primary key `id` exists, else 404; reads no columns.
pub async fn require<E, C>(db: &Reader<'_, C>, id: i64, what: &str) -> Result<()>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    C: ConnectionTrait,
{
    let stmt = E::find_by_id(id)
        .select_only()
        .expr(Expr::val(1))
        .limit(1)
        .into_query();
    if db.exists(&stmt).await? {
        Ok(())
    } else {
        Err(AppError::not_found(what))
    }
}
