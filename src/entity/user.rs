//! `users`: the accounts. Usernames are unique case-insensitively (an expression index on
//! `lower(username)`), emails are stored lower-case under a plain unique constraint.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(has_one)]
    pub profile: HasOne<super::profile::Entity>,
    #[sea_orm(has_many)]
    pub posts: HasMany<super::post::Entity>,
    #[sea_orm(has_many)]
    pub comments: HasMany<super::comment::Entity>,
    #[sea_orm(has_many, via = "user_role::User")]
    pub roles: HasMany<super::role::Entity>,
    #[sea_orm(has_many, relation_enum = "AssignedRoles", via_rel = "AssignedBy")]
    pub assigned_roles: HasMany<super::user_role::Entity>,
    /// Follows of this user by others (`followee_id` is this user).
    #[sea_orm(has_many, relation_enum = "Followers", via_rel = "Followee")]
    pub followers: HasMany<super::follow::Entity>,
    /// Follows by this user of others (`follower_id` is this user).
    #[sea_orm(has_many, relation_enum = "Following", via_rel = "Follower")]
    pub following: HasMany<super::follow::Entity>,
    #[sea_orm(has_many)]
    pub favorites: HasMany<super::favorite::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
