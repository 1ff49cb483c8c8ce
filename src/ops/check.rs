//! `relata check`: the database's own integrity report (invariants I1 and I2).
//!
//! Reads every foreign key from the catalog of the live database (SQLite's pragmas or
//! PostgreSQL's `pg_constraint`) and reports rows whose key names no parent (orphans, which
//! can only exist if foreign keys were switched off) and foreign-key columns that no index
//! leads with, and counts the rows of every table, so that an operator sees a table that
//! grows without bound. The same report runs on both databases.
//!
//! It also recounts what the post counters (migration `m0004_post_counts`) hold, slot by
//! slot, and reports every counter row that disagrees with the rows it counts.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::error::Result;

/// A foreign key of the schema: `table.column → parent_table.parent_column`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    pub table: String,
    pub column: String,
    pub parent_table: String,
    pub parent_column: String,
}

/// What `relata check` found.
#[derive(Debug, Default)]
pub struct Report {
    pub foreign_keys: Vec<ForeignKey>,
    /// Foreign keys with the number of rows whose key names no parent.
    pub orphans: Vec<(ForeignKey, i64)>,
    /// Foreign keys whose column leads no index.
    pub unindexed: Vec<ForeignKey>,
    /// Every table of the schema with its number of rows, by name.
    pub row_counts: Vec<(String, i64)>,
    /// Counter tables with the number of their rows that disagree with a real count.
    pub miscounted: Vec<(String, i64)>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.orphans.is_empty() && self.unindexed.is_empty() && self.miscounted.is_empty()
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

async fn strings(db: &DatabaseConnection, sql: &str, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql.to_string()))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(columns.len());
        for c in columns {
            values.push(row.try_get::<String>("", c)?);
        }
        out.push(values);
    }
    Ok(out)
}

async fn foreign_keys(db: &DatabaseConnection) -> Result<Vec<ForeignKey>> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT m.name AS tbl, f.\"from\" AS col, f.\"table\" AS ptbl, COALESCE(f.\"to\", 'id') AS pcol \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' ORDER BY m.name, f.\"from\""
        }
        _ => {
            "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col, \
                    c.confrelid::regclass::text AS ptbl, pa.attname::text AS pcol \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] \
             JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2"
        }
    };
    Ok(strings(db, sql, &["tbl", "col", "ptbl", "pcol"])
        .await?
        .into_iter()
        .map(|v| ForeignKey {
            table: v[0].trim_matches('"').to_string(),
            column: v[1].clone(),
            parent_table: v[2].trim_matches('"').to_string(),
            parent_column: v[3].clone(),
        })
        .collect())
}

/// (table, leading column) of every index. On SQLite, a column declared `INTEGER PRIMARY
/// KEY` is the table's rowid, the key of the table's own B-tree, and has no index of its
/// own in the catalog: it counts as the leader of one.
async fn index_leaders(db: &DatabaseConnection) -> Result<Vec<(String, String)>> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT m.name AS tbl, ii.name AS col \
             FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
             WHERE m.type = 'table' AND ii.seqno = 0 AND ii.name IS NOT NULL \
             UNION ALL \
             SELECT m.name AS tbl, c.name AS col \
             FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.pk = 1 AND upper(c.type) = 'INTEGER' \
               AND (SELECT COUNT(*) FROM pragma_table_info(m.name) k WHERE k.pk > 0) = 1"
        }
        _ => {
            "SELECT t.relname::text AS tbl, a.attname::text AS col \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = current_schema()"
        }
    };
    Ok(strings(db, sql, &["tbl", "col"])
        .await?
        .into_iter()
        .map(|v| (v[0].clone(), v[1].clone()))
        .collect())
}

/// Every table of the current schema, by name.
async fn tables(db: &DatabaseConnection) -> Result<Vec<String>> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name AS tbl FROM sqlite_master \
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT tablename::text AS tbl FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
    };
    Ok(strings(db, sql, &["tbl"])
        .await?
        .into_iter()
        .map(|mut v| v.remove(0))
        .collect())
}

async fn count(db: &DatabaseConnection, sql: String) -> Result<i64> {
    let backend = db.get_database_backend();
    Ok(
        match db
            .query_one_raw(Statement::from_string(backend, sql))
            .await?
        {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        },
    )
}

/// Runs the whole report.
pub async fn run(db: &DatabaseConnection) -> Result<Report> {
    let fks = foreign_keys(db).await?;
    let leaders = index_leaders(db).await?;
    let mut report = Report::default();
    for fk in &fks {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {t} c WHERE c.{c} IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM {p} p WHERE p.{pc} = c.{c})",
            t = quote(&fk.table),
            c = quote(&fk.column),
            p = quote(&fk.parent_table),
            pc = quote(&fk.parent_column),
        );
        let n = count(db, sql).await?;
        if n > 0 {
            report.orphans.push((fk.clone(), n));
        }
        if !leaders
            .iter()
            .any(|(t, c)| t == &fk.table && c == &fk.column)
        {
            report.unindexed.push(fk.clone());
        }
    }
    report.foreign_keys = fks;
    let tables = tables(db).await?;
    for table in &tables {
        let n = count(db, format!("SELECT COUNT(*) AS n FROM {}", quote(table))).await?;
        report.row_counts.push((table.clone(), n));
    }
    for (table, sql) in recounts() {
        if tables.iter().any(|t| t == table) {
            let n = count(db, sql).await?;
            if n > 0 {
                report.miscounted.push((table.to_string(), n));
            }
        }
    }
    Ok(report)
}

/// Per counter table, a statement counting its rows that disagree with the rows they
/// count: stored and recounted values side by side (`UNION ALL`), summed per key.
fn recounts() -> Vec<(&'static str, String)> {
    let s = crate::migration::m0004_post_counts::SLOTS;
    let disagreeing = |keys: &str, sums: &str, rows: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM (SELECT {keys} FROM ({rows}) AS side_by_side \
             GROUP BY {keys} HAVING {sums}) AS wrong"
        )
    };
    vec![
        (
            "post_counts",
            disagreeing(
                "slot",
                "SUM(stored) <> SUM(counted)",
                &format!(
                    "SELECT slot, posts AS stored, 0 AS counted FROM post_counts \
                     UNION ALL SELECT id % {s}, 0, 1 FROM posts"
                ),
            ),
        ),
        (
            "user_post_counts",
            disagreeing(
                "user_id, slot",
                "SUM(posts) <> SUM(posts_counted) OR SUM(favorites) <> SUM(favorites_counted)",
                &format!(
                    "SELECT user_id, slot, posts, 0 AS posts_counted, favorites, 0 AS favorites_counted \
                       FROM user_post_counts \
                     UNION ALL SELECT author_id, id % {s}, 0, 1, 0, 0 FROM posts \
                     UNION ALL SELECT user_id, post_id % {s}, 0, 0, 0, 1 FROM favorites"
                ),
            ),
        ),
        (
            "tag_post_counts",
            disagreeing(
                "tag_id, slot",
                "SUM(stored) <> SUM(counted)",
                &format!(
                    "SELECT tag_id, slot, posts AS stored, 0 AS counted FROM tag_post_counts \
                     UNION ALL SELECT tag_id, post_id % {s}, 0, 1 FROM post_tags"
                ),
            ),
        ),
    ]
}
