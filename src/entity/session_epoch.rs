//! `session_epochs`: how many times a user's password has changed (their epoch) and the
//! `jti` of the access token that made the last change. An access token issued in an
//! earlier epoch is refused, except that one (SPEC §6). No row means epoch 0.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_epochs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub epoch: i64,
    pub kept_jti: Option<String>,
    pub changed_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
