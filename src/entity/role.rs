//! `roles`: named roles; `admin` and `moderator` are created by the first migration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    #[sea_orm(has_many, via = "user_role::Role")]
    pub users: HasMany<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}

/// The role that may do everything; it cannot be deleted.
pub const ADMIN: &str = "admin";
/// The role that may delete any post or comment.
pub const MODERATOR: &str = "moderator";
