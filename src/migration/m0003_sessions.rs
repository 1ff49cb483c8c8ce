//! API 1.2 (SPEC §6): sessions that end with the password, and a username prefix search
//! that an index serves.
//!
//! `session_epochs` holds, per user whose password has changed, how many times it has
//! (the epoch) and the `jti` of the access token that made the last change. Every access
//! token carries the epoch it was issued in; the token check refuses one from an earlier
//! epoch unless it is that kept token. A user whose password never changed has no row
//! (epoch 0), so the table stays as small as the number of password changes.
//!
//! The username search compares `lower(username)` with a range of code points (see
//! `service::like::prefix_range`). SQLite's expression index `ux_users_username_lower`
//! already serves it (SQLite compares text by bytes); PostgreSQL compares by the
//! database's collation unless told otherwise, so the search says `COLLATE "C"` and gets
//! an index of its own here.

use sea_orm_migration::prelude::*;

use super::Users;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SessionEpochs {
    Table,
    UserId,
    Epoch,
    KeptJti,
    ChangedAt,
}

/// The PostgreSQL index of the username prefix search.
const USERNAME_PREFIX_INDEX: &str = "ix_users_username_lower_c";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SessionEpochs::Table)
                .col(
                    ColumnDef::new(SessionEpochs::UserId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SessionEpochs::Epoch)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SessionEpochs::KeptJti).string().null())
                .col(
                    ColumnDef::new(SessionEpochs::ChangedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(SessionEpochs::Table, SessionEpochs::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {USERNAME_PREFIX_INDEX} ON users ((lower(username)) COLLATE \"C\")"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {USERNAME_PREFIX_INDEX}"))
                .await?;
        }
        m.drop_table(Table::drop().table(SessionEpochs::Table).to_owned())
            .await
    }
}
