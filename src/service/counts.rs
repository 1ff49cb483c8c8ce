//! Counting rows in one statement, `SELECT (SELECT COUNT(*) …) AS name, …`: what the
//! cascade previews of `DELETE …?dry_run=true` report.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;

use crate::store::Writer;
use sea_orm::sea_query::{Alias, Asterisk, Condition, Expr, Func, Query};

use crate::error::{AppError, Result};

/// `table.column`, by name.
pub fn col(table: &'static str, column: &'static str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(column)))
}

/// `(SELECT COUNT(*) FROM table WHERE cond)`.
pub fn count_where(table: &'static str, cond: Condition) -> Expr {
    Expr::from(
        Query::select()
            .expr(Func::count(Expr::col(Asterisk)))
            .from(Alias::new(table))
            .cond_where(cond)
            .to_owned(),
    )
}

/// Reads named counts computed by one statement, `SELECT (…) AS name, …`.
pub async fn read_counts(
    db: &Writer<'_>,
    counts: Vec<(&'static str, Expr)>,
) -> Result<BTreeMap<&'static str, u64>> {
    let mut select = Query::select();
    for (name, expr) in &counts {
        select.expr_as(expr.clone(), Alias::new(*name));
    }
    let row = db
        .query_one(&select)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a count query returned no row")))?;
    counts
        .iter()
        .map(|(name, _)| {
            let n = row.try_get::<i64>("", name)?;
            Ok((*name, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}
