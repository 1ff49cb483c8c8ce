//! API 1.1 (SPEC §5): follows, favorites, tags and post tags, and posts' `slug` and
//! `description`. Upgrades a 1.0 database in place: existing posts get a slug made from
//! their title and id, in batches, before the unique index on `slug` is built.
//!
//! The whole migration runs in one transaction on both databases (SQLite's DDL is
//! transactional too), so an upgrade that fails half-way leaves the 1.0 schema as it was.

use sea_orm_migration::prelude::*;

use super::Users;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::domain::slug;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Slug,
    Description,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FolloweeId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Favorites {
    Table,
    UserId,
    PostId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PostTags {
    Table,
    PostId,
    TagId,
    Position,
}

/// Posts whose slug is filled per statement while upgrading.
const BACKFILL_BATCH: i64 = 500;

fn timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn id_ref<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn cascade<
    T: IntoIden + 'static,
    C: IntoIden + 'static,
    P: IntoIden + 'static,
    Q: IntoIden + 'static,
>(
    name: &str,
    from: (T, C),
    to: (P, Q),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index on `table (cols…)`.
fn index<T: IntoIden + 'static>(name: &str, table: T, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for col in cols {
        index.col(col);
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();

        // Self-referential many-to-many: two foreign keys to `users`, and nobody follows
        // themselves. The primary key serves "whom does X follow"; the followee index
        // serves "who follows X", newest first.
        m.create_table(
            Table::create()
                .table(Follows::Table)
                .col(id_ref(Follows::FollowerId))
                .col(id_ref(Follows::FolloweeId))
                .col(timestamp(Follows::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("pk_follows")
                        .col(Follows::FollowerId)
                        .col(Follows::FolloweeId),
                )
                .check(Check::named(
                    "ck_follows_not_self",
                    Expr::col(Follows::FollowerId).ne(Expr::col(Follows::FolloweeId)),
                ))
                .foreign_key(&mut cascade(
                    "fk_follows_follower",
                    (Follows::Table, Follows::FollowerId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_follows_followee",
                    (Follows::Table, Follows::FolloweeId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_follows_followee_created",
            Follows::Table,
            vec![
                Follows::FolloweeId.into_iden(),
                Follows::CreatedAt.into_iden(),
                Follows::FollowerId.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_follows_follower_created",
            Follows::Table,
            vec![
                Follows::FollowerId.into_iden(),
                Follows::CreatedAt.into_iden(),
                Follows::FolloweeId.into_iden(),
            ],
        ))
        .await?;

        // Many-to-many whose row carries data (`created_at`).
        m.create_table(
            Table::create()
                .table(Favorites::Table)
                .col(id_ref(Favorites::UserId))
                .col(id_ref(Favorites::PostId))
                .col(timestamp(Favorites::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("pk_favorites")
                        .col(Favorites::UserId)
                        .col(Favorites::PostId),
                )
                .foreign_key(&mut cascade(
                    "fk_favorites_user",
                    (Favorites::Table, Favorites::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_favorites_post",
                    (Favorites::Table, Favorites::PostId),
                    (Posts::Table, Posts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_favorites_post_created",
            Favorites::Table,
            vec![
                Favorites::PostId.into_iden(),
                Favorites::CreatedAt.into_iden(),
                Favorites::UserId.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_favorites_user_created",
            Favorites::Table,
            vec![
                Favorites::UserId.into_iden(),
                Favorites::CreatedAt.into_iden(),
                Favorites::PostId.into_iden(),
            ],
        ))
        .await?;

        // Tags are listed by name in code-point order on both databases: SQLite compares
        // text bytewise already; PostgreSQL needs the "C" collation on the column.
        let mut name = ColumnDef::new(Tags::Name);
        name.string_len(50).not_null().unique_key();
        if backend == DbBackend::Postgres {
            name.extra("COLLATE \"C\"");
        }
        m.create_table(
            Table::create()
                .table(Tags::Table)
                .col(
                    ColumnDef::new(Tags::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(name)
                .col(timestamp(Tags::CreatedAt))
                .to_owned(),
        )
        .await?;

        // Ordered many-to-many: `position` is the order the author gave.
        m.create_table(
            Table::create()
                .table(PostTags::Table)
                .col(id_ref(PostTags::PostId))
                .col(id_ref(PostTags::TagId))
                .col(ColumnDef::new(PostTags::Position).integer().not_null())
                .primary_key(
                    Index::create()
                        .name("pk_post_tags")
                        .col(PostTags::PostId)
                        .col(PostTags::TagId),
                )
                .foreign_key(&mut cascade(
                    "fk_post_tags_post",
                    (PostTags::Table, PostTags::PostId),
                    (Posts::Table, Posts::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_post_tags_tag",
                    (PostTags::Table, PostTags::TagId),
                    (Tags::Table, Tags::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_post_tags_tag_post",
            PostTags::Table,
            vec![PostTags::TagId.into_iden(), PostTags::PostId.into_iden()],
        ))
        .await?;

        // SQLite cannot add a NOT NULL column without a default, so both databases add
        // `slug` with an empty default, fill it, and only then make it unique; PostgreSQL
        // then drops the default, so that a post without a slug is refused there outright.
        m.alter_table(
            Table::alter()
                .table(Posts::Table)
                .add_column(
                    ColumnDef::new(Posts::Description)
                        .string_len(1000)
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Posts::Table)
                .add_column(
                    ColumnDef::new(Posts::Slug)
                        .string_len(80)
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        backfill_slugs(m.get_connection(), backend).await?;
        m.create_index(
            Index::create()
                .name("ux_posts_slug")
                .table(Posts::Table)
                .col(Posts::Slug)
                .unique()
                .to_owned(),
        )
        .await?;
        if backend == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE posts ALTER COLUMN slug DROP DEFAULT")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["post_tags", "tags", "favorites", "follows"] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        m.drop_index(
            Index::drop()
                .name("ux_posts_slug")
                .table(Posts::Table)
                .to_owned(),
        )
        .await?;
        for column in [Posts::Slug, Posts::Description] {
            m.alter_table(
                Table::alter()
                    .table(Posts::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// Gives every existing post the slug of its title with its id as the suffix (unique
/// because ids are), [`BACKFILL_BATCH`] posts per `UPDATE … FROM (VALUES …)`.
async fn backfill_slugs<C: ConnectionTrait>(db: &C, backend: DbBackend) -> Result<(), DbErr> {
    let mut after = 0i64;
    loop {
        let page = Query::select()
            .columns([Alias::new("id"), Alias::new("title")])
            .from(Posts::Table)
            .and_where(Expr::col(Posts::Id).gt(after))
            .order_by(Posts::Id, Order::Asc)
            .limit(BACKFILL_BATCH as u64)
            .to_owned();
        let rows = db.query_all(&page).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 2);
        let mut tuples = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let id: i64 = row.try_get("", "id")?;
            let title: String = row.try_get("", "title")?;
            values.push(id.into());
            values.push(slug::with_suffix(&title, &id.to_string()).into());
            tuples.push(match backend {
                DbBackend::Postgres => format!("(${}::bigint, ${}::text)", 2 * i + 1, 2 * i + 2),
                _ => "(?, ?)".to_string(),
            });
            after = id;
        }
        // `column1`/`column2` are the names both databases give the columns of VALUES.
        let sql = format!(
            "UPDATE posts SET slug = v.column2 FROM (VALUES {}) AS v WHERE posts.id = v.column1",
            tuples.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
}
