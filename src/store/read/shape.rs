//! SQL text kept per statement shape.
//!
//! The include loader's statements differ from one request to the next only in their
//! values and in how many keys their `IN (…)` list holds. Building each one again with
//! sea-query (the statement tree, then its text) was about 13% of S4's CPU on SQLite
//! (bench/README.md, "Designs tried"). A [`ShapeCache`] keeps the text sea-query built
//! for a shape, and a request supplies only the values.
//!
//! The values a caller supplies must be those sea-query would bind. The first build of a
//! shape compares them, and keeps the text only when they agree; debug builds (the tests)
//! build and compare on every use too.

use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::sea_query::{SelectStatement, Value};
use sea_orm::{DbBackend, Statement, Values};

/// A statement ready to send: its text for one backend and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    pub sql: Arc<str>,
    pub values: Values,
}

impl Built {
    /// `stmt` built for `backend` now.
    pub fn now(backend: DbBackend, stmt: &SelectStatement) -> Built {
        let built = backend.build(stmt);
        Built {
            sql: built.sql.into(),
            values: built.values.unwrap_or(Values(Vec::new())),
        }
    }

    /// Reports this statement, run by a direct executor on `backend`, to the request's
    /// counter (`store::record_statement`), as SeaORM's metric callback does for its own.
    pub fn record(&self, backend: DbBackend, elapsed: Duration, failed: bool) {
        crate::store::record_statement(elapsed, failed, || {
            Statement::from_sql_and_values(backend, self.sql.to_string(), self.values.clone())
        });
    }
}

/// Texts by shape `K`, one map per backend. A shape is the server's own (a relation, its
/// marks and how many keys; a lookup's type), never a client's text, and is looked up on
/// every statement, so the maps hash with foldhash rather than SipHash.
pub struct ShapeCache<K> {
    sqlite: RwLock<foldhash::HashMap<K, Arc<str>>>,
    postgres: RwLock<foldhash::HashMap<K, Arc<str>>>,
}

impl<K> Default for ShapeCache<K> {
    fn default() -> Self {
        ShapeCache {
            sqlite: RwLock::new(foldhash::HashMap::default()),
            postgres: RwLock::new(foldhash::HashMap::default()),
        }
    }
}

impl<K: Eq + Hash + Copy> ShapeCache<K> {
    /// The statement that `build` makes, whose shape is `key` and whose values are
    /// `values`, with its text from the cache when this shape was built before.
    pub fn get(
        &self,
        backend: DbBackend,
        key: K,
        values: Vec<Value>,
        build: impl FnOnce() -> SelectStatement,
    ) -> Built {
        let Some(texts) = self.texts(backend) else {
            return Built::now(backend, &build());
        };
        let values = Values(values);
        let known = texts.read().ok().and_then(|t| t.get(&key).cloned());
        if let Some(sql) = known {
            let built = Built { sql, values };
            debug_assert_eq!(
                built,
                Built::now(backend, &build()),
                "a cached statement shape differs from what sea-query builds"
            );
            return built;
        }
        let built = Built::now(backend, &build());
        if built.values == values
            && let Ok(mut texts) = texts.write()
        {
            texts.insert(key, built.sql.clone());
        }
        built
    }

    /// How many shapes are kept for `backend`.
    pub fn len(&self, backend: DbBackend) -> usize {
        self.texts(backend)
            .and_then(|t| t.read().ok().map(|t| t.len()))
            .unwrap_or(0)
    }

    /// Whether the text of shape `key` is kept for `backend`.
    pub fn holds(&self, backend: DbBackend, key: K) -> bool {
        self.texts(backend)
            .and_then(|t| t.read().ok().map(|t| t.contains_key(&key)))
            .unwrap_or(false)
    }

    fn texts(&self, backend: DbBackend) -> Option<&RwLock<foldhash::HashMap<K, Arc<str>>>> {
        match backend {
            DbBackend::Sqlite => Some(&self.sqlite),
            DbBackend::Postgres => Some(&self.postgres),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};

    fn by_ids(ids: &[i64]) -> SelectStatement {
        Query::select()
            .column(Asterisk)
            .from(Alias::new("posts"))
            .and_where(Expr::col(Alias::new("id")).is_in(ids.iter().copied()))
            .to_owned()
    }

    fn ints(ids: &[i64]) -> Vec<Value> {
        ids.iter().map(|&i| Value::BigInt(Some(i))).collect()
    }

    #[test]
    fn a_shape_is_built_once_and_bound_with_each_requests_values() {
        let cache = ShapeCache::<usize>::default();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let first = cache.get(backend, 2, ints(&[1, 2]), || by_ids(&[1, 2]));
            let again = cache.get(backend, 2, ints(&[7, 9]), || by_ids(&[7, 9]));
            assert_eq!(again, Built::now(backend, &by_ids(&[7, 9])));
            assert_eq!(first.sql, again.sql);
            assert_eq!(cache.len(backend), 1);
        }
    }

    #[test]
    fn values_that_disagree_with_the_statement_are_not_kept() {
        let cache = ShapeCache::<usize>::default();
        let built = cache.get(DbBackend::Sqlite, 1, ints(&[5]), || by_ids(&[6]));
        assert_eq!(built, Built::now(DbBackend::Sqlite, &by_ids(&[6])));
        assert_eq!(cache.len(DbBackend::Sqlite), 0);
    }
}
