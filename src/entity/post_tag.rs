//! `post_tags`: the ordered many-to-many between posts and tags; `position` keeps the
//! order the author gave. Both foreign keys cascade (a post's tags go with it; a tag is
//! never deleted by a cascade, so its rows here only go with their posts).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub post_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
    pub position: i32,
    #[sea_orm(belongs_to, from = "post_id", to = "id", on_delete = "Cascade")]
    pub post: BelongsTo<super::post::Entity>,
    #[sea_orm(belongs_to, from = "tag_id", to = "id", on_delete = "Cascade")]
    pub tag: BelongsTo<super::tag::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
