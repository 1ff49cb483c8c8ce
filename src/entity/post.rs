//! `posts`: written by one user (`author_id`), holding many comments, favorited by many
//! users and tagged, in order, with many tags. `slug` is unique and set once, at creation.

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, Set};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub description: String,
    pub content: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "author_id", to = "id", on_delete = "Cascade")]
    pub author: BelongsTo<super::user::Entity>,
    #[sea_orm(has_many)]
    pub comments: HasMany<super::comment::Entity>,
    #[sea_orm(has_many)]
    pub favorites: HasMany<super::favorite::Entity>,
    #[sea_orm(has_many, via = "post_tag::Post")]
    pub tags: HasMany<super::tag::Entity>,
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// A post inserted without a slug gets one made from its title, so that every way of
    /// creating a post (the API, tests, tools) keeps the column filled.
    async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if insert && self.slug.is_not_set() {
            let title = match &self.title {
                ActiveValue::Set(t) | ActiveValue::Unchanged(t) => t.as_str(),
                ActiveValue::NotSet => "",
            };
            self.slug = Set(crate::domain::slug::generate(title));
        }
        if insert && self.description.is_not_set() {
            self.description = Set(String::new());
        }
        Ok(self)
    }
}
