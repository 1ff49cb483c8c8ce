//! Text search in SQL, written once: a case-insensitive `LIKE` whose pattern takes the
//! searched text literally (`q` of the post lists: a title substring), and a
//! case-insensitive prefix as a range of `lower(column)` that an expression index serves
//! (`q` of `GET /users`: a username prefix).
//!
//! The prefix is a range rather than `LIKE 'p%'` because neither database uses an index
//! for that here: SQLite applies its LIKE optimisation to plain columns only, not to
//! `lower(username)`, and PostgreSQL only to a pattern it knows when it plans, which a
//! prepared statement's generic plan does not. A prefix that matches nothing then costs
//! an index probe instead of a scan of every user (SPEC §6).

use sea_orm::DbBackend;
use sea_orm::sea_query::Expr;

/// The escape character of every pattern: `!` rather than `\`, whose quoting in string
/// literals differs between SQLite and PostgreSQL.
const ESCAPE: char = '!';

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

/// `lower(column) LIKE lower(pattern) ESCAPE '!'`, true when `text` appears anywhere in
/// `column`. `lower()` on both sides makes SQLite and PostgreSQL agree (SQLite's `LIKE`
/// is case-insensitive for ASCII only, PostgreSQL's not at all).
pub fn contains_case_insensitive(backend: DbBackend, column: Expr, text: &str) -> Expr {
    let pattern = format!("%{}%", literal(text));
    // sea-query binds custom SQL through each backend's own placeholder.
    let sql = match backend {
        DbBackend::Postgres => "lower($1) LIKE lower($2) ESCAPE '!'",
        _ => "lower(?) LIKE lower(?) ESCAPE '!'",
    };
    Expr::cust_with_exprs(sql, [column, Expr::val(pattern)])
}

/// The first text after every text that starts with `prefix`, in code-point order: the
/// prefix with its last character moved one code point on (dropped, and the one before
/// moved on, when it is the last code point). `None` when no text comes after them all.
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// True when `column` starts with `prefix`, ignoring ASCII case (usernames are ASCII):
/// `lower(column)` between the lower-cased prefix and [`after_prefix`], compared by code
/// point on both databases (SQLite compares text by bytes; PostgreSQL is told
/// `COLLATE "C"`, which its index `ix_users_username_lower_c` is built with).
pub fn starts_with_case_insensitive(backend: DbBackend, column: Expr, prefix: &str) -> Expr {
    let low = prefix.to_ascii_lowercase();
    let high = after_prefix(&low);
    match (backend, high) {
        (DbBackend::Postgres, Some(high)) => Expr::cust_with_exprs(
            "lower($1) COLLATE \"C\" >= $2 AND lower($1) COLLATE \"C\" < $3",
            [column, Expr::val(low), Expr::val(high)],
        ),
        (DbBackend::Postgres, None) => {
            Expr::cust_with_exprs("lower($1) COLLATE \"C\" >= $2", [column, Expr::val(low)])
        }
        (_, Some(high)) => Expr::cust_with_exprs(
            "lower(?) >= ? AND lower(?) < ?",
            [column.clone(), Expr::val(low), column, Expr::val(high)],
        ),
        (_, None) => Expr::cust_with_exprs("lower(?) >= ?", [column, Expr::val(low)]),
    }
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
    fn a_contains_pattern_has_the_wildcard_on_both_sides() {
        use sea_orm::sea_query::{Query, SqliteQueryBuilder};
        let sql = Query::select()
            .expr(Expr::val(1))
            .and_where(contains_case_insensitive(
                DbBackend::Sqlite,
                Expr::col(sea_orm::sea_query::Alias::new("t")),
                "a_b",
            ))
            .to_string(SqliteQueryBuilder);
        assert!(sql.ends_with("lower('%a!_b%') ESCAPE '!'"), "{sql}");
    }

    #[test]
    fn a_prefix_is_the_range_up_to_the_first_text_after_it() {
        assert_eq!(after_prefix("abc").as_deref(), Some("abd"));
        assert_eq!(after_prefix("a_").as_deref(), Some("a`"));
        assert_eq!(after_prefix("a%").as_deref(), Some("a&"));
        assert_eq!(after_prefix("z\u{10FFFF}").as_deref(), Some("{"));
        // The surrogates are not characters: the next one after U+D7FF is U+E000.
        assert_eq!(after_prefix("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(after_prefix("\u{10FFFF}"), None);
        assert_eq!(after_prefix(""), None);
    }

    #[test]
    fn a_prefix_reads_as_a_range_of_the_lower_cased_column_on_both_databases() {
        use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
        let query = |backend| {
            Query::select()
                .expr(Expr::val(1))
                .and_where(starts_with_case_insensitive(
                    backend,
                    Expr::col(sea_orm::sea_query::Alias::new("username")),
                    "Al_",
                ))
                .to_owned()
        };
        let sqlite = query(DbBackend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(
            sqlite.ends_with(r#"lower("username") >= 'al_' AND lower("username") < 'al`'"#),
            "{sqlite}"
        );
        let pg = query(DbBackend::Postgres).to_string(PostgresQueryBuilder);
        assert!(
            pg.ends_with(
                r#"lower("username") COLLATE "C" >= 'al_' AND lower("username") COLLATE "C" < 'al`'"#
            ),
            "{pg}"
        );
    }
}
