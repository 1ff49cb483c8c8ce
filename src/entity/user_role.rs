//! `user_roles`: the many-to-many junction between users and roles, and an association
//! object of its own: when the role was assigned and by whom (`assigned_by`, a second
//! foreign key to `users` that becomes NULL when the assigner is deleted).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: i64,
    pub assigned_at: DateTimeUtc,
    pub assigned_by: Option<i64>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
    #[sea_orm(belongs_to, from = "role_id", to = "id", on_delete = "Cascade")]
    pub role: BelongsTo<super::role::Entity>,
    #[sea_orm(
        belongs_to,
        relation_enum = "AssignedBy",
        from = "assigned_by",
        to = "id",
        on_delete = "SetNull"
    )]
    pub assigner: BelongsTo<Option<super::user::Entity>>,
}

impl ActiveModelBehavior for ActiveModel {}

// Two foreign keys lead to `users`, so the macro cannot pick one for `Related`; the
// holder of the role is the relation that `users.roles` goes through.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}
