//! `follows`: the self-referential many-to-many between users. One table, two foreign
//! keys to `users` (`follower_id` follows `followee_id`), and two views of it: a user's
//! followers and whom they follow. The database refuses a self-follow (a CHECK).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub follower_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub followee_id: i64,
    pub created_at: DateTimeUtc,
    #[sea_orm(
        belongs_to,
        relation_enum = "Follower",
        from = "follower_id",
        to = "id",
        on_delete = "Cascade"
    )]
    pub follower: BelongsTo<super::user::Entity>,
    #[sea_orm(
        belongs_to,
        relation_enum = "Followee",
        from = "followee_id",
        to = "id",
        on_delete = "Cascade"
    )]
    pub followee: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}

// Both foreign keys lead to `users`, so the macro cannot pick one for `Related`; a follow
// belongs first of all to the user who follows.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Follower.def()
    }
}
