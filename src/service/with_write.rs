//! Writes made for a bearer token on PostgreSQL, each one data-modifying `WITH` statement
//! that checks the token too ([`InStatement`]): a new article, comment or post is then one
//! statement, with no round trip for the check before it, and nothing lands for a token
//! that no longer works (the check and the write see one snapshot). The statement answers
//! the caller's row (judged as the check on its own judges it), the author's profile for
//! the answer, and the written row.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use crate::domain::viewer::Viewer;
use crate::entity::{profile, user};
use crate::error::{AppError, Result, foreign_key_violation};
use crate::service::auth::{InStatement, UncheckedToken};
use crate::service::profiles::Person;
use crate::store::Writer;
use crate::store::read::{Fields, FromRow, Row};

/// A checked write being built: its parts (`name AS (…)`, after `caller`) and their
/// values, numbered in the order they are bound.
pub struct WithWrite {
    /// [`InStatement::good`].
    good: String,
    values: Vec<Value>,
    ctes: Vec<String>,
}

impl WithWrite {
    /// A write made for `token`, checked first in the same statement: its writes go under
    /// [`WithWrite::guard`], and it ends with [`WithWrite::run_checked`].
    pub fn checked(token: &UncheckedToken) -> WithWrite {
        let InStatement { cte, good, values } = token.in_statement();
        WithWrite {
            good,
            values,
            ctes: vec![cte],
        }
    }

    /// `$n` for a new value.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// `AND <the token still works>`, to end the `WHERE` of each write with.
    pub fn guard(&self) -> String {
        format!(" AND {}", self.good)
    }

    /// Adds `name AS (…)` to the `WITH`.
    pub fn cte(&mut self, cte: String) {
        self.ctes.push(cte);
    }

    /// Runs a checked write on `writer`. Its answer is one row (none when the token's user
    /// is gone): the caller's columns, the caller's user and profile, then `columns`, from
    /// `caller` joined with its user, its profile and `joins` (`LEFT JOIN`s, so that the
    /// row is there whatever was written). 401 as the check on its own answers it; 404
    /// `missing` when a foreign key refused the write (a row it names was deleted since
    /// the statement's snapshot).
    pub async fn run_checked(
        self,
        writer: &Writer<'_>,
        token: &UncheckedToken,
        columns: &str,
        joins: &str,
        missing: &'static str,
    ) -> Result<Written> {
        let select = format!(
            "SELECT caller.*, {}, {}, {columns} FROM caller \
             JOIN users ON users.id = caller.id \
             LEFT JOIN profiles ON profiles.user_id = caller.id {joins}",
            columns_of("users", <user::Model as Fields>::FIELDS),
            columns_of("profiles", <profile::Model as Fields>::FIELDS),
        );
        let sql = format!("WITH {} {select}", self.ctes.join(", "));
        let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, self.values);
        let answer = writer.query_one_raw(stmt).await.map_err(|err| {
            if foreign_key_violation(&err) {
                AppError::not_found(missing)
            } else {
                AppError::from(err)
            }
        })?;
        let viewer = token.judge_row(answer.as_ref())?;
        let row = answer.expect("a caller that passed the check has a row");
        let author = Person::from_row(&row.skip(InStatement::COLUMNS))?;
        Ok(Written {
            viewer,
            author,
            row,
        })
    }
}

/// `table.field, …` for every field, in their order.
pub fn columns_of(table: &str, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("{table}.{f}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a checked write answered: the caller, their profile, and the row.
pub struct Written {
    pub viewer: Viewer,
    pub author: Person,
    row: QueryResult,
}

impl Written {
    /// The written row, from the first of [`WithWrite::run_checked`]'s `columns` on;
    /// `None` when nothing was written (its first column, the new row's id, is NULL).
    pub fn written<T: FromRow>(&self) -> Result<Option<T>> {
        let at = InStatement::COLUMNS
            + <user::Model as Fields>::FIELDS.len()
            + <profile::Model as Fields>::FIELDS.len();
        let row = self.row.skip(at);
        match row.get::<Option<i64>>(0)? {
            Some(_) => Ok(Some(T::from_row(&row)?)),
            None => Ok(None),
        }
    }
}
