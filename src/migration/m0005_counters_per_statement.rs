//! The post counters' inserting triggers on PostgreSQL, once per statement instead of once
//! per row (issue 25): SQLite is unchanged.
//!
//! `m0004_post_counts` bumped a counter row for every row inserted. A statement that
//! inserts many rows (`relata seed`'s batches, a post's tags, a cascade's deletes) then
//! updated the same few counter rows thousands of times in one transaction; each update
//! leaves a new row version the next one must walk past, so a batch cost grew with the
//! square of its size (seeding the bench's 10 000 users took over 15 minutes on
//! PostgreSQL, against 51 s on SQLite, which updates in place). Here each trigger sees the
//! statement's rows at once (a transition table), adds them up by counter row and updates
//! each counter row once, in key order, so that two writers take the rows they share in
//! one order.
//!
//! A post's own delete keeps m0004's row trigger: it must run `BEFORE DELETE`, so that a
//! deleted post takes its counters before its cascade takes its tags' and favoriters'
//! (m0004's comment), and a transition table exists only for `AFTER` triggers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use super::m0004_post_counts::{PgTrigger, SLOTS, create_trigger, drop_trigger, postgres_triggers};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Adds the statement's new rows (transition table `rows`) to `counter`'s `column`, per
/// `key` and the slot of their `post_id`, each counter row once and in key order.
fn add(counter: &str, key: &str, column: &str) -> String {
    format!(
        "INSERT INTO {counter} AS c ({key}, slot, {column}) \
           SELECT {key}, post_id % {SLOTS}, COUNT(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2 \
           ON CONFLICT ({key}, slot) DO UPDATE SET {column} = c.{column} + EXCLUDED.{column}; \
         RETURN NULL;"
    )
}

/// Takes the statement's deleted rows (transition table `rows`) off `counter`'s `column`.
fn subtract(counter: &str, key: &str, column: &str) -> String {
    format!(
        "UPDATE {counter} AS c SET {column} = c.{column} - gone.n \
           FROM (SELECT {key}, post_id % {SLOTS} AS slot, COUNT(*) AS n FROM rows GROUP BY 1, 2) AS gone \
           WHERE c.{key} = gone.{key} AND c.slot = gone.slot; \
         RETURN NULL;"
    )
}

/// The statement triggers, each with its event and the transition table (`rows`) it
/// reads. Each replaces m0004's row trigger of the same name.
fn statement_triggers() -> Vec<PgTrigger> {
    let s = SLOTS;
    vec![
        PgTrigger {
            table: "posts",
            event: "insert",
            body: format!(
                "INSERT INTO post_counts AS c (slot, posts) \
                   SELECT id % {s}, COUNT(*) FROM rows GROUP BY 1 ORDER BY 1 \
                   ON CONFLICT (slot) DO UPDATE SET posts = c.posts + EXCLUDED.posts; \
                 INSERT INTO user_post_counts AS c (user_id, slot, posts) \
                   SELECT author_id, id % {s}, COUNT(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2 \
                   ON CONFLICT (user_id, slot) DO UPDATE SET posts = c.posts + EXCLUDED.posts; \
                 RETURN NULL;"
            ),
            when: "AFTER INSERT ON posts REFERENCING NEW TABLE AS rows",
        },
        PgTrigger {
            table: "post_tags",
            event: "insert",
            body: add("tag_post_counts", "tag_id", "posts"),
            when: "AFTER INSERT ON post_tags REFERENCING NEW TABLE AS rows",
        },
        PgTrigger {
            table: "post_tags",
            event: "delete",
            body: subtract("tag_post_counts", "tag_id", "posts"),
            when: "AFTER DELETE ON post_tags REFERENCING OLD TABLE AS rows",
        },
        PgTrigger {
            table: "favorites",
            event: "insert",
            body: add("user_post_counts", "user_id", "favorites"),
            when: "AFTER INSERT ON favorites REFERENCING NEW TABLE AS rows",
        },
        PgTrigger {
            table: "favorites",
            event: "delete",
            body: subtract("user_post_counts", "user_id", "favorites"),
            when: "AFTER DELETE ON favorites REFERENCING OLD TABLE AS rows",
        },
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        for t in statement_triggers() {
            let (function, trigger) = (t.function(), t.trigger());
            drop_trigger(db, t.table, &function, &trigger).await?;
            let create = format!(
                "CREATE TRIGGER {trigger} {} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
                t.when
            );
            create_trigger(db, &function, &t.body, &create).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        let replaced: Vec<String> = statement_triggers()
            .iter()
            .map(PgTrigger::trigger)
            .collect();
        for t in postgres_triggers() {
            let (function, trigger) = (t.function(), t.trigger());
            if !replaced.contains(&trigger) {
                continue;
            }
            drop_trigger(db, t.table, &function, &trigger).await?;
            let create = format!(
                "CREATE TRIGGER {trigger} {} ON {} FOR EACH ROW EXECUTE FUNCTION {function}()",
                t.when, t.table
            );
            create_trigger(db, &function, &t.body, &create).await?;
        }
        Ok(())
    }
}
