//! Issue 25: the number of posts each Conduit list reports (`articlesCount`) kept in
//! counter tables, so that a list reads a few counter rows instead of counting every
//! matching post on every request.
//!
//! - `post_counts`: every post;
//! - `user_post_counts`: the posts a user wrote (`posts`) and the posts they favorited
//!   (`favorites`);
//! - `tag_post_counts`: the posts carrying a tag.
//!
//! Triggers keep them, in the statement (so the transaction) of the write that changes
//! what they count: a post inserted or deleted, a `post_tags` row, a `favorites` row. So
//! every way a row comes or goes is counted alike: both faces, `relata seed`, an
//! operator's SQL, and the cascades (a user deleted takes their posts, whose tags and
//! favorites go with them). A counter row goes with its user or tag by cascade.
//!
//! Each counter is split over [`SLOTS`] rows by the post's id (`post_id % SLOTS`) and read
//! as their sum: on PostgreSQL, a counter row is locked from its update to the commit, and
//! one row per counter would make every post creation (and every post by one busy author)
//! wait for the one before it. The rows one post touches are all in its slot, and on
//! PostgreSQL a deleted post's counters are decremented before its cascade runs (`BEFORE
//! DELETE`), so that creations and deletions take `post_counts` first and do not lock
//! each other's rows in opposite orders.
//!
//! The migration counts the existing rows once (its backfill) in the same transaction.
//! `relata check` compares every counter with a real count.

use sea_orm_migration::prelude::*;

use super::Users;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Rows per counter; a post's counters are in slot `post_id % SLOTS`.
pub const SLOTS: i64 = 16;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PostCounts {
    Table,
    Slot,
    Posts,
}

#[derive(DeriveIden)]
enum UserPostCounts {
    Table,
    UserId,
    Slot,
    Posts,
    Favorites,
}

#[derive(DeriveIden)]
enum TagPostCounts {
    Table,
    TagId,
    Slot,
    Posts,
}

fn count<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn slot<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().to_owned()
}

/// The triggers of SQLite, one `CREATE TRIGGER` each, with their names.
fn sqlite_triggers() -> Vec<(&'static str, String)> {
    let s = SLOTS;
    vec![
        (
            "trg_posts_count_insert",
            format!(
                "CREATE TRIGGER trg_posts_count_insert AFTER INSERT ON posts BEGIN \
                 INSERT INTO post_counts (slot, posts) VALUES (NEW.id % {s}, 1) \
                   ON CONFLICT (slot) DO UPDATE SET posts = posts + 1; \
                 INSERT INTO user_post_counts (user_id, slot, posts) VALUES (NEW.author_id, NEW.id % {s}, 1) \
                   ON CONFLICT (user_id, slot) DO UPDATE SET posts = posts + 1; \
                 END"
            ),
        ),
        (
            "trg_posts_count_delete",
            format!(
                "CREATE TRIGGER trg_posts_count_delete AFTER DELETE ON posts BEGIN \
                 UPDATE post_counts SET posts = posts - 1 WHERE slot = OLD.id % {s}; \
                 UPDATE user_post_counts SET posts = posts - 1 \
                   WHERE user_id = OLD.author_id AND slot = OLD.id % {s}; \
                 END"
            ),
        ),
        (
            "trg_post_tags_count_insert",
            format!(
                "CREATE TRIGGER trg_post_tags_count_insert AFTER INSERT ON post_tags BEGIN \
                 INSERT INTO tag_post_counts (tag_id, slot, posts) VALUES (NEW.tag_id, NEW.post_id % {s}, 1) \
                   ON CONFLICT (tag_id, slot) DO UPDATE SET posts = posts + 1; \
                 END"
            ),
        ),
        (
            "trg_post_tags_count_delete",
            format!(
                "CREATE TRIGGER trg_post_tags_count_delete AFTER DELETE ON post_tags BEGIN \
                 UPDATE tag_post_counts SET posts = posts - 1 \
                   WHERE tag_id = OLD.tag_id AND slot = OLD.post_id % {s}; \
                 END"
            ),
        ),
        (
            "trg_favorites_count_insert",
            format!(
                "CREATE TRIGGER trg_favorites_count_insert AFTER INSERT ON favorites BEGIN \
                 INSERT INTO user_post_counts (user_id, slot, favorites) VALUES (NEW.user_id, NEW.post_id % {s}, 1) \
                   ON CONFLICT (user_id, slot) DO UPDATE SET favorites = favorites + 1; \
                 END"
            ),
        ),
        (
            "trg_favorites_count_delete",
            format!(
                "CREATE TRIGGER trg_favorites_count_delete AFTER DELETE ON favorites BEGIN \
                 UPDATE user_post_counts SET favorites = favorites - 1 \
                   WHERE user_id = OLD.user_id AND slot = OLD.post_id % {s}; \
                 END"
            ),
        ),
    ]
}

/// A PostgreSQL counter trigger: on `table`, for `event` (`insert` or `delete`), its
/// function's `body`, and `when` it fires.
pub(super) struct PgTrigger {
    pub table: &'static str,
    pub event: &'static str,
    pub body: String,
    pub when: &'static str,
}

impl PgTrigger {
    pub fn function(&self) -> String {
        format!("count_{}_{}", self.table, self.event)
    }

    pub fn trigger(&self) -> String {
        format!("trg_{}_count_{}", self.table, self.event)
    }
}

/// PostgreSQL's trigger functions and triggers, in the order they are created.
pub(super) fn postgres_triggers() -> Vec<PgTrigger> {
    let s = SLOTS;
    vec![
        PgTrigger {
            table: "posts",
            event: "insert",
            body: format!(
                "INSERT INTO post_counts AS c (slot, posts) VALUES (NEW.id % {s}, 1) \
                   ON CONFLICT (slot) DO UPDATE SET posts = c.posts + 1; \
                 INSERT INTO user_post_counts AS c (user_id, slot, posts) VALUES (NEW.author_id, NEW.id % {s}, 1) \
                   ON CONFLICT (user_id, slot) DO UPDATE SET posts = c.posts + 1; \
                 RETURN NULL;"
            ),
            when: "AFTER INSERT",
        },
        PgTrigger {
            table: "posts",
            event: "delete",
            // BEFORE: the post's own counters are taken before its cascade takes its tags'
            // and favoriters' (see the module's comment); returning OLD lets the delete go on.
            body: format!(
                "UPDATE post_counts SET posts = posts - 1 WHERE slot = OLD.id % {s}; \
                 UPDATE user_post_counts SET posts = posts - 1 \
                   WHERE user_id = OLD.author_id AND slot = OLD.id % {s}; \
                 RETURN OLD;"
            ),
            when: "BEFORE DELETE",
        },
        PgTrigger {
            table: "post_tags",
            event: "insert",
            body: format!(
                "INSERT INTO tag_post_counts AS c (tag_id, slot, posts) VALUES (NEW.tag_id, NEW.post_id % {s}, 1) \
                   ON CONFLICT (tag_id, slot) DO UPDATE SET posts = c.posts + 1; \
                 RETURN NULL;"
            ),
            when: "AFTER INSERT",
        },
        PgTrigger {
            table: "post_tags",
            event: "delete",
            body: format!(
                "UPDATE tag_post_counts SET posts = posts - 1 \
                   WHERE tag_id = OLD.tag_id AND slot = OLD.post_id % {s}; \
                 RETURN NULL;"
            ),
            when: "AFTER DELETE",
        },
        PgTrigger {
            table: "favorites",
            event: "insert",
            body: format!(
                "INSERT INTO user_post_counts AS c (user_id, slot, favorites) VALUES (NEW.user_id, NEW.post_id % {s}, 1) \
                   ON CONFLICT (user_id, slot) DO UPDATE SET favorites = c.favorites + 1; \
                 RETURN NULL;"
            ),
            when: "AFTER INSERT",
        },
        PgTrigger {
            table: "favorites",
            event: "delete",
            body: format!(
                "UPDATE user_post_counts SET favorites = favorites - 1 \
                   WHERE user_id = OLD.user_id AND slot = OLD.post_id % {s}; \
                 RETURN NULL;"
            ),
            when: "AFTER DELETE",
        },
    ]
}

/// Drops one PostgreSQL trigger and its function.
pub(super) async fn drop_trigger(
    db: &SchemaManagerConnection<'_>,
    table: &str,
    function: &str,
    trigger: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {trigger} ON {table}"))
        .await?;
    db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {function}()"))
        .await?;
    Ok(())
}

/// Creates a PostgreSQL trigger function with `body`, then the trigger `create` makes.
pub(super) async fn create_trigger(
    db: &SchemaManagerConnection<'_>,
    function: &str,
    body: &str,
    create: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$"
    ))
    .await?;
    db.execute_unprepared(create).await?;
    Ok(())
}

/// Counts the rows already there, once.
fn backfill() -> Vec<String> {
    let s = SLOTS;
    vec![
        format!(
            "INSERT INTO post_counts (slot, posts) \
             SELECT id % {s}, COUNT(*) FROM posts GROUP BY id % {s}"
        ),
        format!(
            "INSERT INTO user_post_counts (user_id, slot, posts, favorites) \
             SELECT user_id, slot, SUM(posts), SUM(favorites) FROM ( \
               SELECT author_id AS user_id, id % {s} AS slot, 1 AS posts, 0 AS favorites FROM posts \
               UNION ALL \
               SELECT user_id, post_id % {s}, 0, 1 FROM favorites \
             ) AS counted GROUP BY user_id, slot"
        ),
        format!(
            "INSERT INTO tag_post_counts (tag_id, slot, posts) \
             SELECT tag_id, post_id % {s}, COUNT(*) FROM post_tags GROUP BY tag_id, post_id % {s}"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PostCounts::Table)
                .col(slot(PostCounts::Slot).primary_key())
                .col(count(PostCounts::Posts))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UserPostCounts::Table)
                .col(
                    ColumnDef::new(UserPostCounts::UserId)
                        .big_integer()
                        .not_null(),
                )
                .col(slot(UserPostCounts::Slot))
                .col(count(UserPostCounts::Posts))
                .col(count(UserPostCounts::Favorites))
                .primary_key(
                    Index::create()
                        .name("pk_user_post_counts")
                        .col(UserPostCounts::UserId)
                        .col(UserPostCounts::Slot),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_post_counts_user")
                        .from(UserPostCounts::Table, UserPostCounts::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TagPostCounts::Table)
                .col(
                    ColumnDef::new(TagPostCounts::TagId)
                        .big_integer()
                        .not_null(),
                )
                .col(slot(TagPostCounts::Slot))
                .col(count(TagPostCounts::Posts))
                .primary_key(
                    Index::create()
                        .name("pk_tag_post_counts")
                        .col(TagPostCounts::TagId)
                        .col(TagPostCounts::Slot),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tag_post_counts_tag")
                        .from(TagPostCounts::Table, TagPostCounts::TagId)
                        .to(Tags::Table, Tags::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        for sql in backfill() {
            db.execute_unprepared(&sql).await?;
        }
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for t in postgres_triggers() {
                    let (function, trigger) = (t.function(), t.trigger());
                    let create = format!(
                        "CREATE TRIGGER {trigger} {} ON {} \
                         FOR EACH ROW EXECUTE FUNCTION {function}()",
                        t.when, t.table
                    );
                    create_trigger(db, &function, &t.body, &create).await?;
                }
            }
            _ => {
                for (_, sql) in sqlite_triggers() {
                    db.execute_unprepared(&sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for t in postgres_triggers() {
                    drop_trigger(db, t.table, &t.function(), &t.trigger()).await?;
                }
            }
            _ => {
                for (name, _) in sqlite_triggers() {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name}"))
                        .await?;
                }
            }
        }
        for table in ["tag_post_counts", "user_post_counts", "post_counts"] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
