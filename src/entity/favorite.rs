//! `favorites`: the many-to-many between users and posts whose row carries data of its
//! own (`created_at`, shown as `favorited_at`). Both foreign keys cascade.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "favorites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub post_id: i64,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
    #[sea_orm(belongs_to, from = "post_id", to = "id", on_delete = "Cascade")]
    pub post: BelongsTo<super::post::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
