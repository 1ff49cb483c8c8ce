//! `post_counts`: the number of posts, spread over a few slots so that concurrent writers
//! do not queue on one row. Kept by triggers in the writing transaction (migrations
//! `m0004_post_counts`, `m0005_counters_per_statement`); the service only reads it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    pub posts: i64,
}

impl ActiveModelBehavior for ActiveModel {}
