//! Text search in SQL, written once: a case-insensitive `LIKE` whose pattern takes the
//! searched text literally (the username prefix of `GET /users`, `title_contains` of the
//! post lists).

use sea_orm::DbBackend;
use sea_orm::sea_query::Expr;

/// The escape character of every pattern: `!` rather than `\`, whose quoting in string
/// literals differs between SQLite and PostgreSQL.
const ESCAPE: char = '!';

/// Where the text must appear in the column.
#[derive(Clone, Copy, Debug)]
pub enum Position {
    Prefix,
    Anywhere,
}

/// `text` with the wildcards `%` and `_` and the escape character itself escaped, so that
/// it matches literally inside a pattern.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            out.push(ESCAPE);
        }
        out.push(c);
    }
    out
}

/// `lower(column) LIKE lower(pattern) ESCAPE '!'`, true when `text` appears in `column`
/// at `position`. `lower()` on both sides makes SQLite and PostgreSQL agree (SQLite's
/// `LIKE` is case-insensitive for ASCII only, PostgreSQL's not at all).
pub fn case_insensitive(backend: DbBackend, column: Expr, text: &str, position: Position) -> Expr {
    let pattern = match position {
        Position::Prefix => format!("{}%", literal(text)),
        Position::Anywhere => format!("%{}%", literal(text)),
    };
    // sea-query binds custom SQL through each backend's own placeholder.
    let sql = match backend {
        DbBackend::Postgres => "lower($1) LIKE lower($2) ESCAPE '!'",
        _ => "lower(?) LIKE lower(?) ESCAPE '!'",
    };
    Expr::cust_with_exprs(sql, [column, Expr::val(pattern)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_the_escape_character_are_taken_literally() {
        assert_eq!(literal("50%_off!"), "50!%!_off!!");
        assert_eq!(literal("plain text"), "plain text");
        assert_eq!(literal("!%_"), "!!!%!_");
    }

    #[test]
    fn a_prefix_pattern_ends_with_the_wildcard_and_a_contains_pattern_has_both() {
        use sea_orm::sea_query::{Query, SqliteQueryBuilder};
        let sql = |position| {
            Query::select()
                .expr(Expr::val(1))
                .and_where(case_insensitive(
                    DbBackend::Sqlite,
                    Expr::col(sea_orm::sea_query::Alias::new("t")),
                    "a_b",
                    position,
                ))
                .to_string(SqliteQueryBuilder)
        };
        assert!(
            sql(Position::Prefix).ends_with("lower('a!_b%') ESCAPE '!'"),
            "{}",
            sql(Position::Prefix)
        );
        assert!(
            sql(Position::Anywhere).ends_with("lower('%a!_b%') ESCAPE '!'"),
            "{}",
            sql(Position::Anywhere)
        );
    }
}
