//! Keyset pagination, written once for every collection of the API.
//!
//! A collection declares its default order as a list of [`SortKey`]s ending with a unique
//! tie-breaker. A page is `WHERE <filter> AND (keys) after (cursor) ORDER BY keys
//! LIMIT limit+1`: the extra row says whether a next page exists, and the cursor is the
//! sort-key values of the page's last item, read from its JSON form and encoded as opaque
//! base64url. With an index that leads with the same keys, a page costs the same at any
//! depth, and rows inserted while a client pages never repeat or hide older rows.
//!
//! A cursor is bound to the list that issued it (SPEC §5 "Cursors"): it carries a digest
//! of the list's [`ListScope`] (its path, parent and filters), and any other list refuses
//! it with 400 `invalid_cursor` instead of silently paging the wrong rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::Value;
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement,
};
use serde_json::Value as Json;

use crate::error::{AppError, Result};
use crate::store::read::{FromRow, Reader};

/// The type of a sort key, which decides how its cursor value is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Int,
    Time,
    Text,
}

/// One column of a collection's default order.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// The SQL expression ordered by (usually a qualified column).
    pub expr: Expr,
    /// Where the value sits in the item's JSON form (a JSON pointer, e.g. `/created_at`).
    pub field: &'static str,
    pub kind: KeyKind,
    pub desc: bool,
}

impl SortKey {
    pub fn asc(expr: impl Into<Expr>, field: &'static str, kind: KeyKind) -> Self {
        SortKey {
            expr: expr.into(),
            field,
            kind,
            desc: false,
        }
    }

    pub fn desc(expr: impl Into<Expr>, field: &'static str, kind: KeyKind) -> Self {
        SortKey {
            expr: expr.into(),
            field,
            kind,
            desc: true,
        }
    }
}

/// A collection's default order (the last key must be unique), bound to one list.
#[derive(Clone, Debug)]
pub struct SortOrder {
    keys: Vec<SortKey>,
    /// The digest of the [`ListScope`] whose cursors this order writes and reads.
    list: u64,
}

/// The identity of one list, which its cursors are bound to: the endpoint's path with
/// the parent's key (`/users/7/posts`) and the filters that select its rows, in a fixed
/// order. Parameters that do not change which rows are listed (`limit`, `include`,
/// `counts`, `count`, `viewer`) are not part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListScope(String);

impl ListScope {
    /// The list served at `path` (relative to `/api/v1`, with its parent's key).
    pub fn new(path: impl Into<String>) -> Self {
        ListScope(path.into())
    }

    /// Adds the filter `name` when it is set.
    pub fn filter(mut self, name: &str, value: Option<impl std::fmt::Display>) -> Self {
        if let Some(value) = value {
            use std::fmt::Write;
            // Each value is length-prefixed, so no value can imitate another filter.
            let value = value.to_string();
            let _ = write!(self.0, "&{name}={}:{value}", value.len());
        }
        self
    }

    /// A stable 64-bit digest (FNV-1a): the same list gives the same digest in every
    /// process and every build, so a cursor outlives a restart.
    fn digest(&self) -> u64 {
        self.0.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// A decoded cursor: one value per sort key.
#[derive(Clone, Debug)]
pub struct Cursor(Vec<Value>);

/// What the client asked of one page.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u64,
    /// The cursor, already decoded and checked against the list ([`SortOrder::decode`]).
    pub cursor: Option<Cursor>,
    pub count: bool,
}

/// One fetched page, before it is turned into JSON.
pub struct Fetched<T> {
    pub rows: Vec<T>,
    pub has_more: bool,
    pub total: Option<u64>,
}

fn bad_cursor() -> AppError {
    AppError::bad_request(
        "invalid_cursor",
        "The cursor is not one this collection issued.",
    )
}

impl SortOrder {
    /// The order `keys`, not yet bound to a list.
    pub fn new(keys: Vec<SortKey>) -> Self {
        SortOrder { keys, list: 0 }
    }

    /// This order for the list `scope`: its cursors are refused by every other list.
    pub fn bound_to(mut self, scope: &ListScope) -> Self {
        self.list = scope.digest();
        self
    }

    /// The sort keys, first to last.
    pub fn keys(&self) -> &[SortKey] {
        &self.keys
    }

    /// Adds `ORDER BY` for this order to a statement.
    pub fn apply_order(&self, stmt: &mut SelectStatement) {
        for key in &self.keys {
            stmt.order_by_expr(
                key.expr.clone(),
                if key.desc { Order::Desc } else { Order::Asc },
            );
        }
    }

    /// Decodes a cursor issued for this order and list; 400 when it does not decode, does
    /// not fit, or was issued by another list.
    pub fn decode(&self, raw: &str) -> Result<Cursor> {
        if raw.len() > 1024 {
            return Err(bad_cursor());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| bad_cursor())?;
        let mut values: Vec<Json> = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
        if values.len() != self.keys.len() + 1 || values.remove(0).as_u64() != Some(self.list) {
            return Err(bad_cursor());
        }
        let mut out = Vec::with_capacity(values.len());
        for (key, v) in self.keys.iter().zip(values) {
            out.push(match (key.kind, v) {
                (KeyKind::Int, Json::Number(n)) => {
                    Value::BigInt(Some(n.as_i64().ok_or_else(bad_cursor)?))
                }
                // PostgreSQL refuses NUL in text; no stored name holds one.
                (KeyKind::Text, Json::String(s)) if !s.contains('\0') => Value::String(Some(s)),
                (KeyKind::Time, Json::String(s)) => {
                    Value::ChronoDateTimeUtc(Some(crate::time::parse(&s).ok_or_else(bad_cursor)?))
                }
                _ => return Err(bad_cursor()),
            });
        }
        Ok(Cursor(out))
    }

    /// The cursor that continues after the item whose own fields are `fields`: the list's
    /// digest, then the item's sort-key values.
    pub fn cursor_after(&self, fields: &Json) -> String {
        let values: Vec<Json> = std::iter::once(Json::from(self.list))
            .chain(
                self.keys
                    .iter()
                    .map(|k| fields.pointer(k.field).cloned().unwrap_or(Json::Null)),
            )
            .collect();
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&values).unwrap_or_default())
    }

    /// The condition "comes after `cursor` in this order".
    pub fn after(&self, cursor: &Cursor) -> Condition {
        let mut any = Condition::any();
        for i in 0..self.keys.len() {
            let mut all = Condition::all();
            for (key, value) in self.keys[..i].iter().zip(&cursor.0) {
                all = all.add(key.expr.clone().eq(value.clone()));
            }
            let key = &self.keys[i];
            let value = cursor.0[i].clone();
            all = all.add(if key.desc {
                key.expr.clone().lt(value)
            } else {
                key.expr.clone().gt(value)
            });
            any = any.add(all);
        }
        // The leading key's non-strict bound is implied by the OR above, but unlike the OR
        // it is a range that an index leading with the sort keys can seek to: without it
        // SQLite walks, and PostgreSQL bitmap-scans and sorts, every row before the
        // cursor, so page 50 of a user's posts cost 1.2-1.5x page 1 (bench/README.md).
        match (self.keys.first(), cursor.0.first()) {
            (Some(key), Some(value)) if self.keys.len() > 1 => Condition::all()
                .add(if key.desc {
                    key.expr.clone().lte(value.clone())
                } else {
                    key.expr.clone().gte(value.clone())
                })
                .add(any),
            _ => any,
        }
    }
}

/// Fetches one page of `stmt` (which holds the collection's filter but no order or limit)
/// in one statement, plus one `COUNT(*)` when `count=true` was asked.
pub async fn fetch<T>(
    db: &Reader<'_>,
    stmt: SelectStatement,
    order: &SortOrder,
    req: &PageRequest,
) -> Result<Fetched<T>>
where
    T: FromRow,
{
    let total = if req.count {
        let count = Query::select()
            .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("total"))
            .from_subquery(stmt.clone(), Alias::new("filtered"))
            .to_owned();
        let total: i64 = db.first(&count).await?.unwrap_or(0);
        Some(Ord::max(total, 0) as u64)
    } else {
        None
    };
    let mut page = stmt;
    if let Some(cursor) = &req.cursor {
        page.cond_where(order.after(cursor));
    }
    order.apply_order(&mut page);
    page.limit(req.limit + 1);
    let mut rows: Vec<T> = db.all(&page).await?;
    let has_more = rows.len() as u64 > req.limit;
    rows.truncate(req.limit as usize);
    Ok(Fetched {
        rows,
        has_more,
        total,
    })
}
