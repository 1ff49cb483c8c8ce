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

use super::m0004_post_counts::{SLOTS, create_trigger, drop_trigger, postgres_triggers};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statement triggers: (table, function, trigger, the function's body, its event
/// with the transition table it reads). Each replaces m0004's row trigger of the same
/// table and event.
fn statement_triggers() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    String,
    &'static str,
)> {
    let s = SLOTS;
    // `rows` is the statement's transition table.
    vec![
        (
            "posts",
            "count_posts_insert",
            "trg_posts_count_insert",
            format!(
                "INSERT INTO post_counts AS c (slot, posts) \
                   SELECT id % {s}, COUNT(*) FROM rows GROUP BY 1 ORDER BY 1 \
                   ON CONFLICT (slot) DO UPDATE SET posts = c.posts + EXCLUDED.posts; \
                 INSERT INTO user_post_counts AS c (user_id, slot, posts) \
                   SELECT author_id, id % {s}, COUNT(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2 \
                   ON CONFLICT (user_id, slot) DO UPDATE SET posts = c.posts + EXCLUDED.posts; \
                 RETURN NULL;"
            ),
            "AFTER INSERT ON posts REFERENCING NEW TABLE AS rows",
        ),
        (
            "post_tags",
            "count_post_tags_insert",
            "trg_post_tags_count_insert",
            format!(
                "INSERT INTO tag_post_counts AS c (tag_id, slot, posts) \
                   SELECT tag_id, post_id % {s}, COUNT(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2 \
                   ON CONFLICT (tag_id, slot) DO UPDATE SET posts = c.posts + EXCLUDED.posts; \
                 RETURN NULL;"
            ),
            "AFTER INSERT ON post_tags REFERENCING NEW TABLE AS rows",
        ),
        (
            "post_tags",
            "count_post_tags_delete",
            "trg_post_tags_count_delete",
            format!(
                "UPDATE tag_post_counts AS c SET posts = c.posts - gone.n \
                   FROM (SELECT tag_id, post_id % {s} AS slot, COUNT(*) AS n FROM rows GROUP BY 1, 2) AS gone \
                   WHERE c.tag_id = gone.tag_id AND c.slot = gone.slot; \
                 RETURN NULL;"
            ),
            "AFTER DELETE ON post_tags REFERENCING OLD TABLE AS rows",
        ),
        (
            "favorites",
            "count_favorites_insert",
            "trg_favorites_count_insert",
            format!(
                "INSERT INTO user_post_counts AS c (user_id, slot, favorites) \
                   SELECT user_id, post_id % {s}, COUNT(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2 \
                   ON CONFLICT (user_id, slot) DO UPDATE SET favorites = c.favorites + EXCLUDED.favorites; \
                 RETURN NULL;"
            ),
            "AFTER INSERT ON favorites REFERENCING NEW TABLE AS rows",
        ),
        (
            "favorites",
            "count_favorites_delete",
            "trg_favorites_count_delete",
            format!(
                "UPDATE user_post_counts AS c SET favorites = c.favorites - gone.n \
                   FROM (SELECT user_id, post_id % {s} AS slot, COUNT(*) AS n FROM rows GROUP BY 1, 2) AS gone \
                   WHERE c.user_id = gone.user_id AND c.slot = gone.slot; \
                 RETURN NULL;"
            ),
            "AFTER DELETE ON favorites REFERENCING OLD TABLE AS rows",
        ),
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
        for (table, function, trigger, body, event) in statement_triggers() {
            drop_trigger(db, table, function, trigger).await?;
            let create = format!(
                "CREATE TRIGGER {trigger} {event} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            );
            create_trigger(db, function, &body, &create).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        let replaced: Vec<&str> = statement_triggers().iter().map(|t| t.2).collect();
        for (table, function, trigger, body, when) in postgres_triggers() {
            if !replaced.contains(&trigger) {
                continue;
            }
            drop_trigger(db, table, function, trigger).await?;
            let create = format!(
                "CREATE TRIGGER {trigger} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
            );
            create_trigger(db, function, &body, &create).await?;
        }
        Ok(())
    }
}
