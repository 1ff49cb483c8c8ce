//! Association rows whose primary key is the pair they link (a follow, a favorite):
//! writing one race-free ([`insert_if_absent`], [`delete_existing`]), and reading one
//! with the row on its other side in one statement ([`select`]), which the lists of
//! follows and favorites and the single row a PUT answers are all built from.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel, JoinType, PrimaryKeyTrait,
    QuerySelect, QueryTrait, RelationDef, TryInsertResult,
};

use crate::error::{AppError, Result, foreign_key_violation};
use crate::store::Writer;
use crate::store::read::{FromRow, Reader};

pub use crate::store::read::Linked;

/// Inserts `row` unless a row with its primary key exists: one
/// `INSERT … ON CONFLICT (primary key) DO NOTHING`, so of concurrent inserts exactly one
/// creates the row. True when this call created it; 404 naming `parents` when a row it
/// points at vanished meanwhile.
pub async fn insert_if_absent<A>(db: &Writer<'_>, row: A, parents: &str) -> Result<bool>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let inserted = <A::Entity as EntityTrait>::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .map_err(|err| {
            if foreign_key_violation(&err) {
                AppError::not_found(parents)
            } else {
                err.into()
            }
        })?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// Whether the row with primary key `key` exists.
pub async fn exists<E>(
    db: &Writer<'_>,
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
) -> Result<bool>
where
    E: EntityTrait,
{
    Ok(E::find_by_id(key).one(db).await?.is_some())
}

/// Deletes the row with primary key `key`; 404 naming `what` when there was none.
pub async fn delete_existing<E>(
    db: &Writer<'_>,
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    what: &str,
) -> Result<()>
where
    E: EntityTrait,
{
    let deleted = E::delete_by_id(key).exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::not_found(what));
    }
    Ok(())
}

/// `SELECT link.*, other.* FROM link JOIN other ON <via>`, without filter or order.
pub fn select<L: EntityTrait, O: EntityTrait>(via: RelationDef, other: O) -> SelectStatement {
    L::find()
        .join(JoinType::InnerJoin, via)
        .select_also(other)
        .into_query()
}

/// The one row of `stmt`, when there is one.
pub async fn one<T: FromRow>(db: &Reader<'_>, stmt: &SelectStatement) -> Result<Option<T>> {
    Ok(db.first(stmt).await?)
}
