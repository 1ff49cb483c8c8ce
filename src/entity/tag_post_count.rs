//! `tag_post_counts`: per tag, the posts that carry it, in slots as `post_counts`. Kept
//! by triggers (migrations `m0004_post_counts`, `m0005_counters_per_statement`); the
//! service only reads it. Goes with its tag.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tag_post_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    pub posts: i64,
}

impl ActiveModelBehavior for ActiveModel {}
