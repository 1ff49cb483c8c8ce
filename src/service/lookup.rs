//! Finding one row by id, the first step of every single-resource endpoint and of every
//! relationship endpoint (`/users/{id}/posts` answers 404 for an absent user before it
//! reads a page): one statement, and a 404 naming what was missing.

use std::any::TypeId;
use std::sync::LazyLock;

use sea_orm::sea_query::{Expr, Value};
use sea_orm::{DbBackend, EntityTrait, PrimaryKeyTrait, QuerySelect, QueryTrait};

use crate::error::{AppError, Result};
use crate::store::read::{Built, FromRow, Reader, ShapeCache};

/// The two statements' texts per entity (`true`: the existence check).
static LOOKUPS: LazyLock<ShapeCache<(TypeId, bool)>> = LazyLock::new(ShapeCache::default);

/// Their values: the id, then `LIMIT 1`.
fn id_values(id: i64) -> Vec<Value> {
    vec![Value::BigInt(Some(id)), Value::BigUnsigned(Some(1))]
}

/// The statement of [`find`].
pub fn find_built<E>(backend: DbBackend, id: i64) -> Built
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    LOOKUPS.get(backend, (TypeId::of::<E>(), false), id_values(id), || {
        E::find_by_id(id).limit(1).into_query()
    })
}

/// The statement of [`require`].
pub fn require_built<E>(backend: DbBackend, id: i64) -> Built
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    // `SELECT 1` binds its 1 first.
    let values = [vec![Value::Int(Some(1))], id_values(id)].concat();
    LOOKUPS.get(backend, (TypeId::of::<E>(), true), values, || {
        E::find_by_id(id)
            .select_only()
            .expr(Expr::val(1))
            .limit(1)
            .into_query()
    })
}

/// The row of `E` with primary key `id`, or 404 "`what` not found.".
pub async fn find<E>(db: &Reader<'_>, id: i64, what: &str) -> Result<E::Model>
where
    E: EntityTrait,
    E::Model: FromRow,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    db.first(find_built::<E>(db.backend(), id))
        .await?
        .ok_or_else(|| AppError::not_found(what))
}

/// Ok when a row of `E` with primary key `id` exists, else 404; reads no columns.
pub async fn require<E>(db: &Reader<'_>, id: i64, what: &str) -> Result<()>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    if db.exists(require_built::<E>(db.backend(), id)).await? {
        Ok(())
    } else {
        Err(AppError::not_found(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{post, user};

    #[test]
    fn lookups_keep_one_text_per_entity_and_statement() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for id in [3, 4] {
                assert_eq!(
                    find_built::<post::Entity>(backend, id).values.0,
                    id_values(id)
                );
                require_built::<post::Entity>(backend, id);
                find_built::<user::Entity>(backend, id);
            }
            // Kept at the first build, where the values agreed with sea-query's.
            for key in [
                (TypeId::of::<post::Entity>(), false),
                (TypeId::of::<post::Entity>(), true),
                (TypeId::of::<user::Entity>(), false),
            ] {
                assert!(LOOKUPS.holds(backend, key), "{backend:?} {key:?}");
            }
        }
    }
}
