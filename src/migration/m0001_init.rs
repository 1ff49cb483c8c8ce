//! First migration: every table of SPEC §2, their indexes, and the built-in roles.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    DisplayName,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Id,
    UserId,
    AvatarUrl,
    Website,
    Bio,
    Location,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    AuthorId,
    Title,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    PostId,
    AuthorId,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    RoleId,
    AssignedAt,
    AssignedBy,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    AccessJti,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    Jti,
    UserId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Id,
    Login,
    UserId,
    AttemptedAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

fn id_column<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn fk_to_users<T: IntoIden, C: IntoIden>(
    name: &str,
    table: T,
    column: C,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id_column(Users::Id))
                .col(ColumnDef::new(Users::Username).string_len(32).not_null())
                .col(
                    ColumnDef::new(Users::Email)
                        .string_len(254)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                .col(ColumnDef::new(Users::DisplayName).string_len(80).null())
                .col(
                    ColumnDef::new(Users::IsActive)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(timestamp(Users::CreatedAt))
                .col(timestamp(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // Case-insensitive uniqueness is an expression index, decided by the database.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_users_username_lower ON users (lower(username))",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(Profiles::Table)
                .col(id_column(Profiles::Id))
                .col(
                    ColumnDef::new(Profiles::UserId)
                        .big_integer()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Profiles::AvatarUrl).string_len(500).null())
                .col(ColumnDef::new(Profiles::Website).string_len(200).null())
                .col(ColumnDef::new(Profiles::Bio).text().null())
                .col(ColumnDef::new(Profiles::Location).string_len(100).null())
                .col(timestamp(Profiles::CreatedAt))
                .col(timestamp(Profiles::UpdatedAt))
                .foreign_key(&mut fk_to_users(
                    "fk_profiles_user",
                    Profiles::Table,
                    Profiles::UserId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Posts::Table)
                .col(id_column(Posts::Id))
                .col(ColumnDef::new(Posts::AuthorId).big_integer().not_null())
                .col(ColumnDef::new(Posts::Title).string_len(200).not_null())
                .col(ColumnDef::new(Posts::Content).text().not_null())
                .col(timestamp(Posts::CreatedAt))
                .col(timestamp(Posts::UpdatedAt))
                .foreign_key(&mut fk_to_users(
                    "fk_posts_author",
                    Posts::Table,
                    Posts::AuthorId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        // Newest first, per author (`/users/{id}/posts`) and overall (`/posts`).
        m.create_index(
            Index::create()
                .name("idx_posts_author_created")
                .table(Posts::Table)
                .col(Posts::AuthorId)
                .col((Posts::CreatedAt, IndexOrder::Desc))
                .col((Posts::Id, IndexOrder::Desc))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_posts_created")
                .table(Posts::Table)
                .col((Posts::CreatedAt, IndexOrder::Desc))
                .col((Posts::Id, IndexOrder::Desc))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Comments::Table)
                .col(id_column(Comments::Id))
                .col(ColumnDef::new(Comments::PostId).big_integer().not_null())
                .col(ColumnDef::new(Comments::AuthorId).big_integer().not_null())
                .col(ColumnDef::new(Comments::Body).text().not_null())
                .col(timestamp(Comments::CreatedAt))
                .col(timestamp(Comments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_comments_post")
                        .from(Comments::Table, Comments::PostId)
                        .to(Posts::Table, Posts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk_to_users(
                    "fk_comments_author",
                    Comments::Table,
                    Comments::AuthorId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        // Oldest first, per post and per author.
        for (name, column) in [
            ("idx_comments_post_created", Comments::PostId),
            ("idx_comments_author_created", Comments::AuthorId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Comments::Table)
                    .col(column)
                    .col(Comments::CreatedAt)
                    .col(Comments::Id)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(Roles::Table)
                .col(id_column(Roles::Id))
                .col(
                    ColumnDef::new(Roles::Name)
                        .string_len(50)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Roles::Description).text().null())
                .col(timestamp(Roles::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(UserRoles::Table)
                .col(ColumnDef::new(UserRoles::UserId).big_integer().not_null())
                .col(ColumnDef::new(UserRoles::RoleId).big_integer().not_null())
                .col(timestamp(UserRoles::AssignedAt))
                .col(ColumnDef::new(UserRoles::AssignedBy).big_integer().null())
                .primary_key(
                    Index::create()
                        .name("pk_user_roles")
                        .col(UserRoles::UserId)
                        .col(UserRoles::RoleId),
                )
                .foreign_key(&mut fk_to_users(
                    "fk_user_roles_user",
                    UserRoles::Table,
                    UserRoles::UserId,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_roles_role")
                        .from(UserRoles::Table, UserRoles::RoleId)
                        .to(Roles::Table, Roles::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk_to_users(
                    "fk_user_roles_assigned_by",
                    UserRoles::Table,
                    UserRoles::AssignedBy,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        // Assignments are listed by `assigned_at`, then id, from either side.
        m.create_index(
            Index::create()
                .name("idx_user_roles_user_assigned")
                .table(UserRoles::Table)
                .col(UserRoles::UserId)
                .col(UserRoles::AssignedAt)
                .col(UserRoles::RoleId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_user_roles_role_assigned")
                .table(UserRoles::Table)
                .col(UserRoles::RoleId)
                .col(UserRoles::AssignedAt)
                .col(UserRoles::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_user_roles_assigned_by")
                .table(UserRoles::Table)
                .col(UserRoles::AssignedBy)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(id_column(RefreshTokens::Id))
                .col(
                    ColumnDef::new(RefreshTokens::UserId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RefreshTokens::TokenHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(RefreshTokens::AccessJti)
                        .string_len(64)
                        .not_null(),
                )
                .col(timestamp(RefreshTokens::ExpiresAt))
                .col(timestamp(RefreshTokens::CreatedAt))
                .foreign_key(&mut fk_to_users(
                    "fk_refresh_tokens_user",
                    RefreshTokens::Table,
                    RefreshTokens::UserId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_user")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_access_jti")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::AccessJti)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RevokedTokens::Table)
                .col(
                    ColumnDef::new(RevokedTokens::Jti)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RevokedTokens::UserId)
                        .big_integer()
                        .not_null(),
                )
                .col(timestamp(RevokedTokens::ExpiresAt))
                .foreign_key(&mut fk_to_users(
                    "fk_revoked_tokens_user",
                    RevokedTokens::Table,
                    RevokedTokens::UserId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_revoked_tokens_user")
                .table(RevokedTokens::Table)
                .col(RevokedTokens::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginAttempts::Table)
                .col(id_column(LoginAttempts::Id))
                .col(ColumnDef::new(LoginAttempts::Login).string().not_null())
                .col(ColumnDef::new(LoginAttempts::UserId).big_integer().null())
                .col(timestamp(LoginAttempts::AttemptedAt))
                .foreign_key(&mut fk_to_users(
                    "fk_login_attempts_user",
                    LoginAttempts::Table,
                    LoginAttempts::UserId,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_attempts_login")
                .table(LoginAttempts::Table)
                .col(LoginAttempts::Login)
                .col(LoginAttempts::AttemptedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_attempts_user")
                .table(LoginAttempts::Table)
                .col(LoginAttempts::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(
                    ColumnDef::new(Settings::Key)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Settings::Value).text().not_null())
                .to_owned(),
        )
        .await?;

        let now = crate::time::now();
        m.exec_stmt(
            Query::insert()
                .into_table(Roles::Table)
                .columns([Roles::Name, Roles::Description, Roles::CreatedAt])
                .values_panic(["admin".into(), "May do everything".into(), now.into()])
                .values_panic([
                    "moderator".into(),
                    "May delete any post or comment".into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "settings",
            "login_attempts",
            "revoked_tokens",
            "refresh_tokens",
            "user_roles",
            "roles",
            "comments",
            "posts",
            "profiles",
            "users",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
